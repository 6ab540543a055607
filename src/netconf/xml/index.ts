export * from './types.js';
export { parseXml, XmlParseError, DEFAULT_PARSE_LIMITS, resolveParseLimits } from './parse.js';
export type { ParseLimits } from './parse.js';
export { serializeXml, escapeText, escapeAttr } from './serialize.js';
export { el, elA, leaf, isElement, elements, child, childrenNamed, textOf, childText, attr } from './build.js';
export { frozenTree, isFrozenTree, sameTree, sameTrees } from './frozen.js';
export { ownString } from './own-string.js';
