// <x-component path="..."> loader (test stand-in): styles and scripts first, then the body.
const loaded = new WeakSet();

function absoluteImports(code) {
  return code.replace(/(import\s+[^'"]*?from\s+|import\s*\(\s*|import\s+)["'](\/[^"']*)["']/g,
    (match, head, path) => `${head}"${new URL(path, location.origin).href}"`);
}

export async function importComponent(path, target) {
  if (loaded.has(target)) return;
  loaded.add(target);
  const response = await fetch(path);
  if (!response.ok) throw new Error(`component ${path}: ${response.status}`);
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const waits = [];
  for (const style of doc.querySelectorAll("style")) target.appendChild(style.cloneNode(true));
  for (const script of doc.querySelectorAll("script")) {
    if (script.type === "module" && !script.src) {
      const blob = new Blob([absoluteImports(script.textContent)], { type: "text/javascript" });
      waits.push(import(URL.createObjectURL(blob)));
    } else if (script.type === "module") {
      waits.push(import(new URL(script.getAttribute("src"), location.origin).href));
    }
  }
  await Promise.all(waits);
  for (const node of [...doc.body.childNodes]) {
    if (node.nodeName !== "SCRIPT" && node.nodeName !== "STYLE") target.appendChild(node.cloneNode(true));
  }
}

export async function loadComponents(roots = [document.documentElement]) {
  const found = roots.flatMap((root) => [...root.querySelectorAll("x-component")]);
  await Promise.all(found.map((el) => importComponent(el.getAttribute("path"), el)));
}

new MutationObserver((mutations) => {
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType !== 1) continue;
      if (node.matches("x-component")) importComponent(node.getAttribute("path"), node);
      else loadComponents([node]);
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true });

globalThis.loadComponents = loadComponents;
