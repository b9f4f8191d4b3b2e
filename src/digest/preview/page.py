"""The live preview's control page: a small form, the email in a frame, a reload script."""

from __future__ import annotations

from html import escape
from typing import Sequence

from ..settings import PublicationConfig

WIDTHS = {"phone": 375, "desktop": 640}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview: {name}</title>
<style>
  body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #e5e7eb; }}
  form {{ display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: center; padding: 10px 16px;
          background: #fff; border-bottom: 1px solid #d1d5db; }}
  fieldset {{ border: 0; padding: 0; margin: 0; display: flex; gap: 8px; flex-wrap: wrap; }}
  legend {{ font-weight: 600; float: left; margin-right: 6px; }}
  #status {{ color: #6b7280; margin-left: auto; }}
  main {{ display: flex; justify-content: center; padding: 16px; }}
  iframe {{ border: 1px solid #9ca3af; background: #fff; height: calc(100vh - 120px); }}
</style>
</head>
<body>
<form id="controls">
  <fieldset id="topics"><legend>Topics</legend>{topic_boxes}</fieldset>
  <label>Subscriber <input name="subscriber" list="subscribers" placeholder="sample reader" size="28"></label>
  <datalist id="subscribers">{subscriber_options}</datalist>
  <label>Date <input name="date" type="date"></label>
  <fieldset><legend>Width</legend>{width_radios}</fieldset>
  <fieldset><legend>Part</legend>
    <label><input type="radio" name="format" value="html" checked> HTML</label>
    <label><input type="radio" name="format" value="txt"> Text</label>
  </fieldset>
  <a href="review" id="review">Review and approve</a>
  <span id="status">version <span id="version">{version}</span></span>
</form>
<main><iframe id="frame" title="Email preview" width="{default_width}" src="render"></iframe></main>
<script>
(function () {{
  const form = document.getElementById("controls");
  const frame = document.getElementById("frame");
  const shown = document.getElementById("version");
  let version = {version};
  function query() {{
    const q = new URLSearchParams();
    const topics = [...form.querySelectorAll("input[name=topic]:checked")].map(b => b.value);
    if (topics.length) q.set("topics", topics.join(","));
    for (const name of ["subscriber", "date"]) {{
      const value = form.elements[name].value.trim();
      if (value) q.set(name, value);
    }}
    q.set("format", form.elements["format"].value);
    return q.toString();
  }}
  function show() {{
    frame.width = form.elements["width"].value;
    frame.src = "render?" + query();
  }}
  form.addEventListener("change", show);
  form.addEventListener("submit", e => {{ e.preventDefault(); show(); }});
  setInterval(async () => {{
    try {{
      const answer = await (await fetch("version", {{cache: "no-store"}})).json();
      if (answer.version !== version) {{ version = answer.version; shown.textContent = version; show(); }}
    }} catch (e) {{ /* server restarting: try again on the next tick */ }}
  }}, {poll_ms});
}})();
</script>
</body>
</html>
"""


def control_page(config: PublicationConfig, subscribers: Sequence[str], version: int, poll_ms: int = 1000) -> str:
    topic_boxes = "".join(
        f'<label><input type="checkbox" name="topic" value="{escape(t.slug)}"> {escape(t.title)}</label>'
        for t in config.topics
    )
    subscriber_options = "".join(f'<option value="{escape(e)}">' for e in subscribers)
    width_radios = "".join(
        f'<label><input type="radio" name="width" value="{px}"{" checked" if name == "desktop" else ""}> '
        f"{name.capitalize()} ({px} px)</label>"
        for name, px in WIDTHS.items()
    )
    return _PAGE.format(
        name=escape(config.publication.name),
        topic_boxes=topic_boxes,
        subscriber_options=subscriber_options,
        width_radios=width_radios,
        version=int(version),
        default_width=WIDTHS["desktop"],
        poll_ms=int(poll_ms),
    )
