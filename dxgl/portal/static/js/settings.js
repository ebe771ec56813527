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
  environment: "Lighting environment",
  environmentRotation: "Environment rotation (degrees)",
  exposure: "Exposure (EV)",
  showEnvironment: "Show the environment as the background",
  elevation: "Camera elevation (degrees)",
  datasetNormals: "Dataset normals",
};

// What each built-in environment looks like (docs/rendering.md, "Environments"); the names
// themselves come from the contract document, so a new one shows with its bare name.
const BUILTIN_LOOKS = {
  studio: "softbox studio",
  soft: "even light, low contrast",
  contrast: "one strong key light, dark room",
};

const NORMALS = {
  geometric: "geometric (interpolated vertex normals)",
  shading: "shading (with the material's normal maps)",
};

// The rule dxgl applies without `elevation`, in words, from the contract document's numbers.
function autoElevationHint(rule) {
  if (!rule) return "empty: chosen from the model's shape";
  const steps = [...rule.steps].sort((a, b) => b.below - a.below);
  const flat = steps.map((s) => `${s.degrees}° below 1/${Math.round(1 / s.below)}`).join(", ");
  return `empty: chosen from the model's shape, by its height over its larger horizontal side (${flat}, else ${rule.upright}°)`;
}

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

function checkField(control, text) {
  return h("div", { class: "field check" }, control, h("label", { for: control.id }, text));
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
  controls.datasetNormals = select("datasetNormals", f.datasetNormals.options, d.datasetNormals, (n) => NORMALS[n] || n);
  dataset.append(
    h(
      "div",
      { class: "grid2" },
      field(label("datasetQuality"), controls.datasetQuality, "Free credits pay for the smallest tier"),
      field(label("coverage"), controls.coverage, "Camera positions over the upper hemisphere or the whole sphere"),
      field(label("datasetNormals"), controls.datasetNormals, "What the normals/ images hold"),
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

  // --- the look: lighting environment (a built-in or an environment overlay), exposure, camera height
  const env = f.environment;
  const envOverlays = overlays.filter((o) => o.layer === env.overlayLayer);
  const chosenEnv = d.environment;
  controls.environment = h(
    "select",
    { name: "environment", id: uid("environment") },
    h(
      "optgroup",
      { label: "Built-in" },
      env.builtins.map((b) =>
        h("option", { value: b, selected: b === chosenEnv }, `${b}${BUILTIN_LOOKS[b] ? ` — ${BUILTIN_LOOKS[b]}` : ""}${b === contract.defaults.environment ? " (default)" : ""}`),
      ),
    ),
    envOverlays.length
      ? h(
          "optgroup",
          { label: "Environment overlays" },
          envOverlays.map((o) =>
            h("option", { value: o.id, selected: o.id === chosenEnv }, `${o.name || o.id}${o.system ? " (system)" : ""}`),
          ),
        )
      : null,
  );
  controls.environmentRotation = numberInput("environmentRotation", f.environmentRotation, d.environmentRotation, "1");
  controls.exposure = numberInput("exposure", f.exposure, d.exposure, "0.1");
  controls.showEnvironment = checkbox("showEnvironment", d.showEnvironment);
  // The service refuses showEnvironment with a background overlay (two backgrounds for one frame):
  // whichever is set first disables the other, and this line says why.
  const backgroundNote = h("small", { class: "hint", "aria-live": "polite", dataset: { testid: "background-note" } });
  controls.elevation = numberInput("elevation", f.elevation, initial.elevation ?? "", "1");
  const showField = h("div", { class: "field" }, checkField(controls.showEnvironment, label("showEnvironment")), h("small", { class: "hint" }, "Instead of the background colour"), backgroundNote);
  const elevationField = field(label("elevation"), controls.elevation, `${f.elevation.min} to ${f.elevation.max}; ${autoElevationHint(contract.autoElevation)}`);
  const look = h(
    "fieldset",
    { class: "look" },
    h("legend", {}, "Look"),
    h(
      "div",
      { class: "grid2" },
      field(
        label("environment"),
        controls.environment,
        envOverlays.length ? "The light and what reflects in the model" : "The light and what reflects in the model; upload your own .hdr or .exr under Overlays (layer environment)",
      ),
      field(label("environmentRotation"), controls.environmentRotation, `${f.environmentRotation.min} to ${f.environmentRotation.max}, default ${contract.defaults.environmentRotation}`),
      field(label("exposure"), controls.exposure, `${f.exposure.min} to ${f.exposure.max} EV, default ${contract.defaults.exposure}; +1 doubles the light`),
      elevationField,
      showField,
    ),
  );
  root.append(look);

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
    elevationField.hidden = ds; // videos only: a dataset's views are a fixed set of directions
    showField.hidden = ds; // videos only: a dataset's images are the product on white (the service refuses it)
    // One background per frame. Both set (only from `initial`): neither is disabled, the service says.
    const bg = controls.bgImageId;
    const show = controls.showEnvironment;
    if (bg) {
      bg.disabled = show.checked && !bg.value;
      show.disabled = !!bg.value && !show.checked;
      backgroundNote.textContent = show.disabled
        ? "Not with a background overlay: choose None there to show the environment."
        : bg.disabled
          ? "The background overlay is off while the environment is the background."
          : "";
    }
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
      v.datasetNormals = controls.datasetNormals.value;
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
      const elevation = num(controls.elevation, false);
      if (elevation !== null) v.elevation = elevation; // empty: dxgl chooses (and stores) it
    }
    v.aspect = controls.aspect.value;
    v.bgColor = controls.bgColor.value.trim();
    for (const name of ["rotateY", "tiltX"]) {
      const n = num(controls[name], true);
      if (n !== null) v[name] = n;
    }
    v.shadows = controls.shadows.checked;
    v.reflector = controls.reflector.checked;
    v.environment = controls.environment.value;
    for (const name of ["environmentRotation", "exposure"]) {
      const n = num(controls[name], false);
      if (n !== null) v[name] = n;
    }
    if (!isDataset()) v.showEnvironment = controls.showEnvironment.checked;
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
