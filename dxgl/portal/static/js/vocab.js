// The contract's values (what the UI shows and the settings form holds) <-> the GraphQL enum value
// names of the schema (R16_9, HERO_SPIN, Q4K, DONE, ...), both from /portal/contract.json.

let choice = {}; // field -> {value: NAME}
let back = {}; // field -> {NAME: value}
let enums = {}; // enum -> {NAME: value}
let enumsOut = {}; // enum -> {value: NAME}

function invert(map) {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [v, k]));
}

export function initVocab(contract) {
  choice = {};
  back = {};
  for (const [name, spec] of Object.entries(contract.fields)) {
    if (spec.type === "choice" && spec.graphql) {
      choice[name] = spec.graphql;
      back[name] = invert(spec.graphql);
    }
  }
  enumsOut = contract.enums || {};
  enums = Object.fromEntries(Object.entries(enumsOut).map(([k, v]) => [k, invert(v)]));
}

// A settings object of contract values -> RenderSettingsInput (choices as enum names).
export function encodeSettings(values) {
  if (!values) return null;
  const out = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = choice[key] && typeof value === "string" && value in choice[key] ? choice[key][value] : value;
  }
  return out;
}

export function encodeEnum(enumName, value) {
  const map = enumsOut[enumName] || {};
  return value in map ? map[value] : value;
}

function decodeSettings(s) {
  const out = {};
  for (const [key, value] of Object.entries(s)) {
    if (value === null) continue;
    out[key] = back[key] && value in back[key] ? back[key][value] : value;
  }
  return out;
}

const FIELD_ENUMS = { status: "RenderStatus", layer: "OverlayLayer", alignment: "Alignment" };

// Walks a GraphQL answer: enum names back to contract values.
export function decode(data) {
  if (Array.isArray(data)) return data.map(decode);
  if (!data || typeof data !== "object") return data;
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === "renderSettings" && value && typeof value === "object") out[key] = decodeSettings(value);
    else if (FIELD_ENUMS[key] && typeof value === "string") {
      const map = enums[FIELD_ENUMS[key]] || {};
      out[key] = value in map ? map[value] : value;
    } else out[key] = decode(value);
  }
  return out;
}
