// Work that live events make stale (a count, a short list) is fetched again at most once per
// interval, and always once more after the last event, so it ends current.

export function throttle(intervalMs, work) {
  let timer = null;
  let again = false;
  return function run() {
    if (timer) {
      again = true;
      return;
    }
    work();
    timer = setTimeout(() => {
      timer = null;
      if (again) {
        again = false;
        run();
      }
    }, intervalMs);
  };
}
