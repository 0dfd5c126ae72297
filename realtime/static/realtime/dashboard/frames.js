// Live events arrive in bursts (a bulk change, a replay after a reconnect); handling them once
// per animation frame keeps the page to one layout per frame however many there are.

export class FrameBatcher {
  constructor(flush) {
    this.flush = flush;
    this.pending = [];
    this.scheduled = false;
  }

  push(item) {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    schedule(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      this.flush(batch);
    });
  }
}

function schedule(callback) {
  // Hidden tabs get no animation frames; their updates still land, only less often.
  if (document.hidden) setTimeout(callback, 500);
  else requestAnimationFrame(callback);
}
