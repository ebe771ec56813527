import { encodeSettings } from "./vocab.js";

// Every GraphQL operation the portal sends, in one place, written against schema.graphql.

const SETTINGS =
  "renderSettings { quality effect output sweepAngle easeOutRatio amplitude zoomStart zoomEnd scaleFrom aspect bgColor length shadows reflector easing rotateY tiltX datasetQuality coverage bgImageId bgAlign fgImageId fgAlign environment environmentRotation exposure showEnvironment elevation datasetNormals }";
const RENDER = `id modelId status ${SETTINGS} fileSize errorMessage hasWebVariant isSystemPreview createdAt updatedAt`;
const MODEL =
  "id originalName title sku tags fileSize sha256 createdAt archived warnings broken brokenReason";
const INSPECTION =
  "inspection { triangles vertices meshes materials textures { width height format } extensionsUsed extensionsRequired sizeMeters hasUVs hasNormals hasVertexColors animationsIgnored warnings }";

export const Q = {
  account: "query Account { account { id email credits paidCredits freeCredits } }",
  models: `query Models($limit: Int, $offset: Int, $tags: [String!], $archived: Boolean!, $search: String) {
    models(limit: $limit, offset: $offset, tags: $tags, archived: $archived, search: $search) {
      totalCount limit offset items { ${MODEL} renders { id status isSystemPreview createdAt } }
    }
  }`,
  model: `query Model($id: ID!) { model(id: $id) { ${MODEL} ${INSPECTION} renders { ${RENDER} } } }`,
  modelByHash: "query ModelByHash($sha256: String) { modelByHash(sha256: $sha256) { id title originalName } }",
  render: `query Render($id: ID!) { render(id: $id) { ${RENDER} model { id title originalName } } }`,
  datasets: `query Renders($limit: Int, $offset: Int) {
    renders(limit: $limit, offset: $offset, systemPreview: false) { totalCount limit offset items { ${RENDER} model { id title originalName } } }
  }`,
  overlays: "query Overlays { overlays { id layer alignment name description system width height createdAt } }",
  ledger: `query Ledger($limit: Int, $offset: Int) {
    ledger(limit: $limit, offset: $offset) { totalCount limit offset items { id kind paidDelta freeDelta renderId note createdAt } }
  }`,
  apiTokens: "query ApiTokens { apiTokens { id prefix scopes createdAt expiresAt revokedAt } }",
};

export const M = {
  uploadModel: `mutation Upload($file: Upload!, $renderSettings: RenderSettingsInput) {
    uploadModel(file: $file, renderSettings: $renderSettings) { duplicate model { id title originalName } render { id status } }
  }`,
  ingestModel: `mutation Ingest($url: String, $renderSettings: RenderSettingsInput) {
    ingestModel(url: $url, renderSettings: $renderSettings) { duplicate model { id title originalName } render { id status } }
  }`,
  updateModel: `mutation Update($id: ID!, $title: String, $sku: String, $tags: [String!]) {
    updateModel(id: $id, title: $title, sku: $sku, tags: $tags) { id title sku tags }
  }`,
  archiveModel: "mutation Archive($id: ID!) { archiveModel(id: $id) { id archived } }",
  unarchiveModel: "mutation Unarchive($id: ID!) { unarchiveModel(id: $id) { id archived } }",
  deleteModel: "mutation DeleteModel($id: ID!) { deleteModel(id: $id) { id deleted } }",
  createRender: `mutation CreateRender($modelId: ID, $renderSettings: RenderSettingsInput) {
    createRender(modelId: $modelId, renderSettings: $renderSettings) { ${RENDER} }
  }`,
  createRenderBatch: `mutation Batch($renders: [RenderRequest!]) { createRenderBatch(renders: $renders) { ${RENDER} } }`,
  dismissRender: `mutation Dismiss($id: ID!) { dismissRender(id: $id) { ${RENDER} } }`,
  deleteRender: "mutation DeleteRender($id: ID!) { deleteRender(id: $id) { id deleted } }",
  uploadOverlay: `mutation UploadOverlay($file: Upload!, $layer: OverlayLayer, $name: String, $description: String, $alignment: Alignment) {
    uploadOverlay(file: $file, layer: $layer, name: $name, description: $description, alignment: $alignment) { id name layer }
  }`,
  deleteOverlay: "mutation DeleteOverlay($id: ID!) { deleteOverlay(id: $id) { id deleted } }",
  createApiToken: `mutation CreateToken($scopes: [String!]!, $expiresInSeconds: Int) {
    createApiToken(scopes: $scopes, expiresInSeconds: $expiresInSeconds) { rawToken token { id prefix scopes createdAt expiresAt } }
  }`,
  revokeApiToken: "mutation RevokeToken($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }",
};

export const S = {
  renderUpdates: "subscription Live($limit: Int) { renderUpdates(limit: $limit) { id modelId status updatedAt errorMessage hasWebVariant } }",
};

// The renderSettings variable as the schema's input type wants it (contract values in, input out).
export function settingsInput(values) {
  return encodeSettings(values);
}
