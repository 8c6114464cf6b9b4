// A CRD's OpenAPI schema turned into a JSON Schema the way the ecosystem's
// validators consume it: kubeconform's openapi2jsonschema, whose output datree's
// CRD catalogue publishes. What matters is its one strict rule: every object that
// lists properties gets `additionalProperties: false` (the root excepted, unless
// asked), which is how kubectl's client-side validation treated unknown fields.
// Written from that documented behaviour, for the kubeconform test.

type Schema = Record<string, unknown>;

export function crdToJSONSchema(openAPIV3Schema: Schema, opts: { denyRootAdditionalProperties?: boolean } = {}): Schema {
  const out = convert(structuredClone(openAPIV3Schema), !opts.denyRootAdditionalProperties);
  return { $schema: 'http://json-schema.org/schema#', ...out };
}

function convert(node: Schema, skipThis: boolean): Schema {
  if (node['x-kubernetes-int-or-string'] === true) {
    delete node.type;
    node.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (node.nullable === true && typeof node.type === 'string') node.type = [node.type, 'null'];
  const properties = node.properties as Record<string, Schema> | undefined;
  if (properties && !skipThis && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    node.additionalProperties = false;
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && v && typeof v === 'object') {
      for (const [name, child] of Object.entries(v as Record<string, Schema>)) (v as Record<string, Schema>)[name] = convert(child, false);
    } else if ((k === 'items' || k === 'additionalProperties') && v && typeof v === 'object' && !Array.isArray(v)) {
      node[k] = convert(v as Schema, false);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      node[k] = v.map((s: Schema) => convert(s, false));
    }
  }
  return node;
}
