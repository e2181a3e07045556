// Catalogues are compiled by build.mjs (an esbuild plugin) from web/i18n/<ui>/<lang>.json.
declare module 'catalog:*' {
  const messages: Record<string, (values?: Record<string, unknown>) => string>;
  export default messages;
}
