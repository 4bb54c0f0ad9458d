// <x-extension id="point"> anchors and JS extension points (test stand-in).
import { callJsonApi } from "/js/api.js";

const cache = new Map();

async function listExtensions(point, filters) {
  const key = `${point}|${filters.join(",")}`;
  if (!cache.has(key)) {
    cache.set(key, callJsonApi("/load_webui_extensions", { extension_point: point, filters })
      .then((r) => r.extensions || []));
  }
  return cache.get(key);
}

function rooted(path) {
  return path.startsWith("/") ? path : `/${path}`;
}

export async function callJsExtensions(point, ...data) {
  for (const path of await listExtensions(point, ["*.js", "*.mjs"])) {
    try {
      const module = await import(rooted(path));
      await module.default(...data);
    } catch (error) {
      console.error(`extension ${path} failed`, error);
    }
  }
}

export async function fillExtension(anchor) {
  if (anchor.dataset.filled) return;
  anchor.dataset.filled = "1";
  const paths = await listExtensions(anchor.id, ["*.html", "*.htm"]);
  anchor.innerHTML = paths.map((p) => `<x-component path="${rooted(p)}"></x-component>`).join("");
}

export function loadHtmlExtensions(root = document.documentElement) {
  return Promise.all([...root.querySelectorAll("x-extension")].map(fillExtension));
}

new MutationObserver((mutations) => {
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType !== 1) continue;
      if (node.matches("x-extension")) fillExtension(node);
      else loadHtmlExtensions(node);
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true });
loadHtmlExtensions();
