// The Worker's module entry (what worker-build would generate): load the wasm, export the
// fetch handler and the Durable Object class. A Rust panic leaves the wasm instance
// unusable; the next call resets it, and each Durable Object re-creates its Rust half
// (which then rebuilds its hub from the sockets' attachments and the store).
import wasmModule from "./build/edge_bg.wasm";
import * as edge from "./build/edge.js";

edge.initSync({ module: wasmModule });
const init = edge.__worker_init_state();

function resetAfterPanic() {
  if (init.criticalError) {
    console.warn("Reinitializing Wasm application after a panic");
    edge.__wbg_reset_state();
    init.criticalError = false;
    init.instanceId++;
  }
}

// workerd keeps the method it looked up, so the Rust object is refreshed when a method
// is called, not only when it is looked up.
export const SiteHub = new Proxy(edge.SiteHub, {
  construct(Target, args) {
    const box = { inner: undefined, id: -1 };
    const current = () => {
      resetAfterPanic();
      if (box.id !== init.instanceId) {
        box.inner = new Target(...args);
        box.id = init.instanceId;
      }
      return box.inner;
    };
    current();
    return new Proxy({}, {
      get(_, name) {
        const value = current()[name];
        if (typeof value !== "function") return value;
        return (...callArgs) => current()[name](...callArgs);
      },
    });
  },
});

export default {
  fetch(request, env, ctx) {
    resetAfterPanic();
    return edge.fetch(request, env, ctx);
  },
};
