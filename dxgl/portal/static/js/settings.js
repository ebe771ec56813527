// The render-settings form, built from /portal/contract.json (dxgl.contract: every field, its
// range and default). Values are checked by the service (invalid_settings), not by the browser, so
// the message the user sees is the API's; the form keeps its values after an error.

import { h, field, uid } from "./ui.js";

let contractPromise = null;

export function loadContract() {
  if (!contractPromise) {
    contractPromise = fetch("/portal/contract.json", { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(`contract.json: HTTP ${r.status}`);
      return r.json();
    });
  }
  return contractPromise;
}

const LABELS = {
  quality: "Quality",
  effect: "Effect",
  output: "Output",
  aspect: "Aspect ratio",
  bgColor: "Background colour",
  length: "Length (seconds)",
  shadows: "Shadows",
  reflector: "Reflective floor",
  easing: "Easing",
  rotateY: "Rotate Y (degrees)",
  tiltX: "Tilt X (degrees)",
  datasetQuality: "Dataset tier",
  coverage: "Coverage",
  bgImageId: "Background overlay",
  bgAlign: "Background alignment",
  fgImageId: "Foreground overlay",
  fgAlign: "Foreground alignment",
  sweepAngle: "Sweep angle (degrees)",
  easeOutRatio: "Ease-out ratio",
  amplitude: "Amplitude (degrees)",
  zoomStart: "Zoom start",
  zoomEnd: "Zoom end",
  scaleFrom: "Scale from",
};

export function label(name) {
  return LABELS[name] || name;
}

function select(name, options, value, describe = (o) => o) {
  return h(
    "select",
    { name, id: uid(name) },
    options.map((o) => h("option", { value: o, selected: o === value }, describe(o))),
  );
}

function numberInput(name, spec, value, step) {
  return h("input", {
    type: "number",
    name,
    id: uid(name),
    inputmode: "decimal",
    min: spec.min,
    max: spec.max,
    step,
    value: String(value),
  });
}

function checkbox(name, checked) {
  return h("input", { type: "checkbox", name, id: uid(name), checked });
}

// Builds the form section. `overlays`: [{id, name, layer, system}]; `credits`: {paid, free} or null.
// Returns {element, values(), cost(), onChange(fn)}.
export function settingsForm(contract, { overlays = [], credits = null, initial = {} } = {}) {
  const d = { ...contract.defaults, ...contract.datasetDefaults, ...initial };
  const f = contract.fields;
  const root = h("fieldset", { class: "settings" }, h("legend", {}, "Render settings"));
  const controls = {};
  const listeners = [];
  const changed = () => {
    sync();
    listeners.forEach((fn) => fn());
  };
  root.addEventListener("input", changed);
  root.addEventListener("change", changed);

  const output = select("output", f.output.options, initial.output || (d.effect === "dataset" ? "dataset" : "video"));
  controls.output = output;
  root.append(field(label("output"), output, "A video (with poster and thumbnail) or a multi-view training dataset"));

  // --- video
  const video = h("div", { class: "group", dataset: { group: "video" } });
  controls.quality = select("quality", f.quality.options, d.quality, (q) => {
    const t = contract.qualities[q];
    return `${q} — ${t.size["16:9"].join("×")}, ${t.codec}, ${t.credits} credit${t.credits === 1 ? "" : "s"}`;
  });
  video.append(field(label("quality"), controls.quality, "Free credits pay for standard (watermarked) videos only"));
  const effects = f.effect.options.filter((e) => e !== "dataset");
  controls.effect = select("effect", effects, d.effect === "dataset" ? "turntable" : d.effect);
  video.append(field(label("effect"), controls.effect));
  const params = h("div", { class: "group effect-params" });
  const paramControls = {}; // effect -> {name: input}
  for (const [effect, list] of Object.entries(contract.effectParams)) {
    if (!list.length) continue;
    const box = h("div", { class: "grid2", dataset: { effect } });
    paramControls[effect] = {};
    for (const p of list) {
      const value = initial.effect === effect && initial[p.name] !== undefined ? initial[p.name] : p.default;
      const input = numberInput(p.name, p, value, p.max - p.min <= 3 ? "0.05" : "1");
      paramControls[effect][p.name] = input;
      box.append(field(label(p.name), input, `${p.min} to ${p.max}, default ${p.default}`));
    }
    params.append(box);
  }
  video.append(params);
  controls.length = numberInput("length", f.length, d.length, "1");
  controls.easing = checkbox("easing", d.easing);
  video.append(
    h(
      "div",
      { class: "grid2" },
      field(label("length"), controls.length, `${f.length.min} to ${f.length.max}, default ${contract.defaults.length}`),
      h("div", { class: "field check" }, controls.easing, h("label", { for: controls.easing.id }, label("easing"))),
    ),
  );
  root.append(video);

  // --- dataset
  const dataset = h("div", { class: "group", dataset: { group: "dataset" } });
  controls.datasetQuality = select("datasetQuality", f.datasetQuality.options, d.datasetQuality, (q) => {
    const t = contract.datasetTiers[q];
    return `${t.views} views at ${t.size}×${t.size} — ${t.credits} credit${t.credits === 1 ? "" : "s"}`;
  });
  controls.coverage = select("coverage", f.coverage.options, d.coverage);
  dataset.append(
    h(
      "div",
      { class: "grid2" },
      field(label("datasetQuality"), controls.datasetQuality, "Free credits pay for the smallest tier"),
      field(label("coverage"), controls.coverage, "Camera positions over the upper hemisphere or the whole sphere"),
    ),
  );
  root.append(dataset);

  // --- shared
  controls.aspect = select("aspect", f.aspect.options, d.aspect);
  controls.bgColor = h("input", { type: "text", name: "bgColor", id: uid("bgColor"), value: d.bgColor, spellcheck: "false", autocomplete: "off" });
  const swatch = h("input", { type: "color", value: /^#[0-9a-fA-F]{6}$/.test(d.bgColor) ? d.bgColor : "#ffffff", "aria-label": "Pick background colour" });
  swatch.addEventListener("input", () => {
    controls.bgColor.value = swatch.value;
  });
  controls.bgColor.addEventListener("input", () => {
    if (/^#[0-9a-fA-F]{6}$/.test(controls.bgColor.value)) swatch.value = controls.bgColor.value;
  });
  const colorField = field(label("bgColor"), controls.bgColor, "#rrggbb, default #ffffff");
  colorField.append(swatch);
  controls.rotateY = numberInput("rotateY", f.rotateY, d.rotateY, "1");
  controls.tiltX = numberInput("tiltX", f.tiltX, d.tiltX, "1");
  controls.shadows = checkbox("shadows", d.shadows);
  controls.reflector = checkbox("reflector", d.reflector);
  root.append(
    h(
      "div",
      { class: "grid2" },
      field(label("aspect"), controls.aspect),
      colorField,
      field(label("rotateY"), controls.rotateY, `${f.rotateY.min} to ${f.rotateY.max}, default 0`),
      field(label("tiltX"), controls.tiltX, `${f.tiltX.min} to ${f.tiltX.max}, default 0`),
      h("div", { class: "field check" }, controls.shadows, h("label", { for: controls.shadows.id }, label("shadows"))),
      h("div", { class: "field check" }, controls.reflector, h("label", { for: controls.reflector.id }, label("reflector"))),
    ),
  );

  // --- overlays (own + system)
  const ov = h("div", { class: "grid2" });
  for (const ref of contract.overlayRefs) {
    const choices = overlays.filter((o) => o.layer === ref.layer);
    const img = h(
      "select",
      { name: ref.image, id: uid(ref.image) },
      h("option", { value: "" }, "None"),
      choices.map((o) =>
        h("option", { value: o.id, selected: initial[ref.image] === o.id }, `${o.name || o.id}${o.system ? " (system)" : ""}`),
      ),
    );
    const align = select(ref.align, f[ref.align].options, initial[ref.align] || "top-left");
    controls[ref.image] = img;
    controls[ref.align] = align;
    ov.append(field(label(ref.image), img, choices.length ? null : `No ${ref.layer} overlays yet`), field(label(ref.align), align));
  }
  root.append(ov);

  const costLine = h("p", { class: "cost", "aria-live": "polite" });
  root.append(costLine);

  function isDataset() {
    return output.value === "dataset";
  }

  function sync() {
    const ds = isDataset();
    video.hidden = ds;
    dataset.hidden = !ds;
    for (const box of params.children) box.hidden = ds || box.dataset.effect !== controls.effect.value;
    for (const ref of contract.overlayRefs) controls[ref.align].disabled = !controls[ref.image].value;
    const c = cost();
    let text = `This render costs ${c} credit${c === 1 ? "" : "s"}.`;
    if (credits) text += ` You have ${credits.paid} paid + ${credits.free} free.`;
    if (!freeMayPay()) text += " Free credits cannot pay for this tier.";
    costLine.textContent = text;
  }

  function num(input, integer) {
    const raw = input.value.trim();
    if (raw === "") return null;
    const n = Number(raw);
    if (Number.isNaN(n)) return raw; // the service names the field
    return integer && Number.isInteger(n) ? n : n;
  }

  function values() {
    const v = {};
    if (isDataset()) {
      v.output = "dataset";
      v.datasetQuality = controls.datasetQuality.value;
      v.coverage = controls.coverage.value;
    } else {
      v.quality = controls.quality.value;
      v.effect = controls.effect.value;
      for (const [name, input] of Object.entries(paramControls[v.effect] || {})) {
        const n = num(input, false);
        if (n !== null) v[name] = n;
      }
      const len = num(controls.length, true);
      if (len !== null) v.length = len;
      v.easing = controls.easing.checked;
    }
    v.aspect = controls.aspect.value;
    v.bgColor = controls.bgColor.value.trim();
    for (const name of ["rotateY", "tiltX"]) {
      const n = num(controls[name], true);
      if (n !== null) v[name] = n;
    }
    v.shadows = controls.shadows.checked;
    v.reflector = controls.reflector.checked;
    for (const ref of contract.overlayRefs) {
      if (controls[ref.image].value) {
        v[ref.image] = controls[ref.image].value;
        v[ref.align] = controls[ref.align].value;
      }
    }
    return v;
  }

  function cost() {
    return isDataset()
      ? contract.datasetTiers[controls.datasetQuality.value].credits
      : contract.qualities[controls.quality.value].credits;
  }

  function freeMayPay() {
    return isDataset()
      ? contract.datasetTiers[controls.datasetQuality.value].freeCreditsMayPay
      : contract.qualities[controls.quality.value].freeCreditsMayPay;
  }

  sync();
  return { element: root, values, cost, controls, onChange: (fn) => listeners.push(fn) };
}

// The cost of one settings object (as values() returns it).
export function costOf(contract, v) {
  return v.output === "dataset"
    ? contract.datasetTiers[v.datasetQuality || contract.datasetDefaults.datasetQuality].credits
    : contract.qualities[v.quality || contract.defaults.quality].credits;
}
