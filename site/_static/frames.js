/* Static sliders for the course website: each live figure of a notebook, rendered when the notebook was run
 * (course_lib/frames.py), becomes an <img> whose frame follows plain HTML controls. No kernel, no library.
 *
 * <div class="course-frames" data-base="_static/frames/04_forward_diffusion/0/">
 *   <script type="application/json">{controls: [{name, kind, values, default}], frames: {"v1|v2": "3.png"},
 *                                      alts: {"v1|v2": "what frame 3.png shows"}}</script>
 *   <img alt="the default frame's description">
 * </div>
 * A frame is looked up by the values of all controls joined with "|". Where that combination was not rendered
 * (a figure with many controls gets one control at a time), the nearest rendered frame that keeps the control
 * just moved is shown, and the other controls move to its values. The image's alt text follows the frame: its
 * description from "alts" (written when the notebook ran), else the controls' values ("t = 100, schedule = linear").
 */
(function () {
  "use strict";

  function setUp(box) {
    var index = JSON.parse(box.querySelector("script[type='application/json']").textContent);
    var base = box.getAttribute("data-base");
    var img = box.querySelector("img");
    var note = document.createElement("div");
    note.className = "course-frames-note";
    var inputs = [];
    var panel = document.createElement("div");
    panel.className = "course-frames-controls";

    function valueOf(i) {
      var c = index.controls[i];
      return c.kind === "slider" ? c.values[+inputs[i].value] : inputs[i].value;
    }
    function setValue(i, value) {
      var c = index.controls[i];
      inputs[i].value = c.kind === "slider" ? String(c.values.indexOf(value)) : value;
      inputs[i].output && (inputs[i].output.textContent = value);
    }
    function key(values) { return values.join("|"); }

    function show(moved) {
      var values = index.controls.map(function (_, i) { return valueOf(i); });
      var file = index.frames[key(values)];
      var message = "";
      if (!file) {  // nearest rendered frame that keeps the moved control's value
        var best = null, bestScore = -1;
        Object.keys(index.frames).forEach(function (k) {
          var parts = k.split("|");
          if (moved !== undefined && parts[moved] !== values[moved]) { return; }
          var score = parts.filter(function (p, i) { return p === values[i]; }).length;
          if (score > bestScore) { best = parts; bestScore = score; }
        });
        if (best) {
          best.forEach(function (v, i) { setValue(i, v); });
          file = index.frames[key(best)];
          message = "Only one control at a time was rendered for this page; the others moved to their starting values.";
        } else {
          message = "This setting was not rendered for the page (it takes a kernel): run the notebook to see it.";
        }
      }
      if (file) {
        img.src = base + file;
        var shown = key(index.controls.map(function (_, i) { return valueOf(i); }));
        img.alt = (index.alts && index.alts[shown]) ||
          index.controls.map(function (c, i) { return c.name + " = " + valueOf(i); }).join(", ");
      }
      note.textContent = message;
      box.setAttribute("data-shown", file || "");
    }

    index.controls.forEach(function (c, i) {
      var row = document.createElement("label");
      row.className = "course-frames-row";
      var name = document.createElement("span");
      name.className = "course-frames-name";
      name.textContent = c.name;
      row.appendChild(name);
      var input;
      if (c.kind === "slider") {
        input = document.createElement("input");
        input.type = "range";
        input.min = 0;
        input.max = c.values.length - 1;
        input.step = 1;
        input.value = String(Math.max(0, c.values.indexOf(c["default"])));
        input.output = document.createElement("output");
        input.output.textContent = c["default"];
        input.addEventListener("input", function () { input.output.textContent = c.values[+input.value]; show(i); });
        row.appendChild(input);
        row.appendChild(input.output);
      } else {
        input = document.createElement("select");
        c.values.forEach(function (v) {
          var option = document.createElement("option");
          option.value = v;
          option.textContent = v;
          input.appendChild(option);
        });
        input.value = c["default"];
        input.addEventListener("change", function () { show(i); });
        row.appendChild(input);
      }
      input.setAttribute("aria-label", c.name);
      inputs.push(input);
      panel.appendChild(row);
    });
    box.insertBefore(panel, img);
    box.appendChild(note);
    show();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".course-frames"), setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
