/** The YANG layer's public surface: load modules, validate instance data, XSD patterns. */
export type { YangValidator, YangModuleInfo } from './types.js';
export { loadYang, compileTexts, SchemaValidator, YangLoadError, IMPORT_ONLY_DEFAULT } from './load.js';
export type { LoadedYang, LoadOptions, SchemaStep } from './load.js';
export { parseYang, YangParseError } from './parse.js';
export type { Stmt } from './parse.js';
export { YangSchemaError } from './compile.js';
export { compileXsdPattern, xsdToJsSource, YangRegexError } from './regex.js';
export { checkValue } from './value.js';
export { schemaNodeAt } from './data-types.js';
export type * from './schema.js';
export { parseJsonText, fromParsed, operationFromJson, restconfOperationFromJson, YangJsonError } from './json.js';
export type { JValue, JNumber, JObject, JsonConversion } from './json.js';
