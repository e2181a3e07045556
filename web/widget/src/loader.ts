// widget.js, the file a shop's tag names: a loader cached for minutes, so a new release
// reaches every shop within minutes, while the widget itself is an immutable, versioned
// file (cached for a year) that the browser checks against its integrity hash.
declare const __WIDGET__: { src: string; integrity: string };

(() => {
  const me = document.currentScript as HTMLScriptElement | null;
  if (!me) return;
  const tag = document.createElement('script');
  tag.src = new URL(__WIDGET__.src, me.src).href;
  tag.integrity = __WIDGET__.integrity;
  tag.crossOrigin = 'anonymous';
  tag.async = true;
  for (const a of Array.from(me.attributes)) {
    if (a.name.startsWith('data-')) tag.setAttribute(a.name, a.value);
  }
  (document.head || document.documentElement).appendChild(tag);
})();
