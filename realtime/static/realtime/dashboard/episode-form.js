// An episode's editable fields as form controls named as the API names them, so that a 400
// answer's field errors land next to the control they are about.

import { h } from "./dom.js";

const FIELDS = [
  { name: "title", label: "Title", required: true },
  { name: "description", label: "Description", multiline: true },
  { name: "season_number", label: "Season", type: "number", min: 1 },
  { name: "episode_number", label: "Episode number", type: "number", min: 1 },
  { name: "air_date", label: "Air date", type: "date" },
  { name: "categories", label: "Categories", hint: "separated by commas" },
];

const toInput = {
  categories: (value) => (value || []).join(", "),
};
const fromInput = {
  season_number: (text) => (text === "" ? null : Number(text)),
  episode_number: (text) => (text === "" ? null : Number(text)),
  air_date: (text) => text || null,
  categories: (text) => text.split(",").map((item) => item.trim()).filter(Boolean),
};

/** The labelled controls, each followed by the place its error goes; ids start with `prefix`. */
export function episodeFields(prefix) {
  return FIELDS.flatMap(({ name, label, type, min, required, multiline, hint }) => {
    const id = `${prefix}-${name.replaceAll("_", "-")}`;
    const props = { id, name, "aria-describedby": `${id}-error` };
    const control = multiline
      ? h("textarea", { ...props, rows: 4 })
      : h("input", { ...props, type: type || "text", min, required });
    return [
      h("label", { for: id }, label, hint && h("span", { class: "hint" }, ` (${hint})`)),
      control,
      h("p", { id: `${id}-error`, class: "field-error", dataset: { field: name }, hidden: true }),
    ];
  });
}

/** An episode's values as the form shows them. */
export function fillEpisodeForm(form, episode) {
  for (const { name } of FIELDS) {
    const value = episode[name];
    form.elements[name].value = toInput[name] ? toInput[name](value) : (value ?? "");
  }
  showFieldErrors(form, null);
}

/** The form's values as the API takes them. */
export function readEpisodeForm(form) {
  return Object.fromEntries(
    FIELDS.map(({ name }) => {
      const text = form.elements[name].value;
      return [name, fromInput[name] ? fromInput[name](text) : text];
    }),
  );
}

/** The fields `after` gives other values than `before` (both as readEpisodeForm reads them). */
export function changedFields(before, after) {
  const differs = ([name, value]) => JSON.stringify(value) !== JSON.stringify(before[name]);
  return Object.fromEntries(Object.entries(after).filter(differs));
}

/** A field's value as a person reads it. */
export function displayValue(name, value) {
  if (name === "categories") return (value || []).join(", ") || "—";
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

// A field's problems: a list of messages, or messages by item for a list field.
const problemsText = (problems) =>
  typeof problems === "string" ? problems : Object.values(problems).map(problemsText).join(" ");

/** Puts each field error of a 400 `body` next to its control; answers whether any was placed. */
export function showFieldErrors(form, body) {
  let placed = false;
  for (const slot of form.querySelectorAll(".field-error")) {
    const problems = body && typeof body === "object" ? body[slot.dataset.field] : undefined;
    slot.textContent = problems ? problemsText(problems) : "";
    slot.hidden = !problems;
    form.elements[slot.dataset.field].setAttribute("aria-invalid", String(Boolean(problems)));
    placed ||= Boolean(problems);
  }
  return placed;
}

export const fieldLabel = (name) => FIELDS.find((field) => field.name === name).label;
