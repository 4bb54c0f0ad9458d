// createStore(name, state): an Alpine store, usable before Alpine starts (test stand-in).
const stores = new Map();

export function createStore(name, initialState) {
  const register = () => globalThis.Alpine.store(name, initialState);
  if (globalThis.Alpine) register();
  else document.addEventListener("alpine:init", register);
  const proxy = new Proxy(initialState, {
    get(target, prop) {
      const live = globalThis.Alpine?.store(name);
      return live ? live[prop] : target[prop];
    },
    set(target, prop, value) {
      const live = globalThis.Alpine?.store(name);
      if (live) live[prop] = value;
      else target[prop] = value;
      return true;
    },
  });
  stores.set(name, proxy);
  return proxy;
}

export function getStore(name) {
  return stores.get(name);
}
