/// The labelling page: a grid of patches; click cycles a patch through
/// good → bad → none, keys G / B / N label the patch under the mouse,
/// arrows (or J / K) change page. Every change is saved by the server.
enum LabelPage {
    static let html = #"""
    <!doctype html>
    <html><head><meta charset="utf-8"><title>cem label</title>
    <style>
    body { font-family: system-ui, sans-serif; margin: 0; background: #f4f4f4; }
    header { position: sticky; top: 0; background: #222; color: #eee; padding: 10px 16px; display: flex; gap: 18px; align-items: center; }
    header b { color: #fff; } .good { color: #6c6; } .bad { color: #e66; }
    #grid { display: grid; grid-template-columns: repeat(auto-fill, 150px); gap: 10px; padding: 16px; }
    .tile { background: #fff; border: 5px solid #ccc; cursor: pointer; text-align: center; font-size: 11px; overflow: hidden; }
    .tile img { width: 140px; height: 140px; object-fit: contain; image-rendering: pixelated; display: block; margin: auto; }
    .tile.label-good { border-color: #3a3; } .tile.label-bad { border-color: #d33; } .tile.label-none { border-color: #999; opacity: .6; }
    button { background: #444; color: #eee; border: 1px solid #666; padding: 4px 10px; cursor: pointer; }
    </style></head><body>
    <header>
      <b>cem label</b>
      <span>good <b class="good" id="count-good">0</b></span>
      <span>bad <b class="bad" id="count-bad">0</b></span>
      <span>none <b id="count-none">0</b></span>
      <span>unlabelled <b id="count-unlabelled">0</b></span>
      <span id="page">page</span>
      <button id="prev">◀ prev</button><button id="next">next ▶</button>
      <span style="opacity:.7">click: good → bad → none · keys G/B/N on the patch under the mouse · ←/→ pages</span>
    </header>
    <div id="grid"></div>
    <script>
    const pageSize = 48; let offset = 0, total = 0, hovered = null;
    const order = [null, "good", "bad", "none"];
    function showCounts(c) { for (const k of ["good", "bad", "none", "unlabelled"]) document.getElementById("count-" + k).textContent = c[k] ?? 0; }
    function paint(tile, label) { tile.className = "tile" + (label ? " label-" + label : ""); tile.dataset.label = label ?? ""; }
    async function setLabel(tile, label) {
      const r = await fetch("/api/label", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ id: Number(tile.dataset.id), label }) });
      if (r.ok) { paint(tile, label); showCounts(await r.json()); }
    }
    async function load() {
      const r = await fetch(`/api/items?offset=${offset}&limit=${pageSize}`); const data = await r.json();
      total = data.total; showCounts(data.counts);
      document.getElementById("page").textContent = `${offset + 1}–${Math.min(offset + pageSize, total)} of ${total}`;
      const grid = document.getElementById("grid"); grid.innerHTML = "";
      for (const item of data.items) {
        const tile = document.createElement("div"); tile.dataset.id = item.id; tile.title = item.name;
        tile.innerHTML = `<img src="/api/image/${item.id}" alt="${item.name}"><div>${item.name}</div>`;
        paint(tile, item.label);
        tile.onclick = () => { const next = order[(order.indexOf(tile.dataset.label || null) + 1) % order.length] ?? "good"; setLabel(tile, next); };
        tile.onmouseenter = () => hovered = tile;
        grid.appendChild(tile);
      }
    }
    document.getElementById("prev").onclick = () => { if (offset > 0) { offset -= pageSize; load(); } };
    document.getElementById("next").onclick = () => { if (offset + pageSize < total) { offset += pageSize; load(); } };
    document.addEventListener("keydown", e => {
      const k = e.key.toLowerCase();
      if (hovered && (k === "g" || k === "b" || k === "n")) setLabel(hovered, { g: "good", b: "bad", n: "none" }[k]);
      if (k === "arrowright" || k === "j") document.getElementById("next").click();
      if (k === "arrowleft" || k === "k") document.getElementById("prev").click();
    });
    load();
    </script></body></html>
    """#
}
