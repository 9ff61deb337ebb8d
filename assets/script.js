// Digit Kiosk drawing page. Records every pointer sample (mouse, touch, pen;
// coalesced events included) as strokes of [x, y, t, pressure] in the
// 280x280 canvas space and sends the strokes; the station rasterises them
// with the same brush as its window, so what is drawn here is what is stored.
(function () {
  "use strict";

  var SIZE = 280;            // canvas space, as stored
  var BRUSH = 18;            // brush width in canvas space, as the rasteriser's
  var MARGIN = 60;           // how far past the edge a point is kept (server allows 70)
  var MAX_POINTS = 10000;    // the server's limit for one drawing
  var TIMEOUT_MS = 15000;
  var STATS_EVERY_MS = 8000;

  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var placeholder = document.getElementById("placeholder");
  var statusEl = document.getElementById("status");
  var submitBtn = document.getElementById("submit");
  var undoBtn = document.getElementById("undo");
  var clearBtn = document.getElementById("clear");
  var totalEl = document.getElementById("total");
  var suggestEl = document.getElementById("suggest");
  var digitBtns = Array.prototype.slice.call(document.querySelectorAll(".digit"));
  var cols = Array.prototype.slice.call(document.querySelectorAll(".counts .col"));

  var session = "web-" + randomId(20);
  var strokes = [];          // [{pointer, points: [[x, y, t, p], ...]}]
  var active = null;         // {id, stroke} while a pointer is down
  var t0 = null;             // time of the drawing's first point
  var label = null;
  var sending = false;
  var submissionId = null;   // kept across retries of the same drawing and label
  var scale = 1;

  function randomId(n) {
    var chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    var bytes = new Uint8Array(n);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var out = "";
    for (var i = 0; i < n; i++) out += chars.charAt(bytes[i] % chars.length);
    return out;
  }

  function pointCount() {
    var n = 0;
    for (var i = 0; i < strokes.length; i++) n += strokes[i].points.length;
    return n;
  }

  // ---- drawing ----

  function resize() {
    var dpr = window.devicePixelRatio || 1;
    var side = canvas.clientWidth;
    var px = Math.max(1, Math.round(side * dpr));
    if (canvas.width !== px) {
      canvas.width = px;
      canvas.height = px;
    }
    scale = px / SIZE;
    redraw();
  }

  function setBrush() {
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.lineWidth = BRUSH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
  }

  function redraw() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    setBrush();
    for (var i = 0; i < strokes.length; i++) drawStroke(strokes[i].points);
    placeholder.classList.toggle("hidden", strokes.length > 0);
  }

  function drawStroke(points) {
    if (!points.length) return;
    if (points.length === 1) {
      dot(points[0]);
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (var i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
    ctx.stroke();
  }

  function dot(p) {
    ctx.beginPath();
    ctx.arc(p[0], p[1], BRUSH / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  function segment(a, b) {
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  // Client pixels to canvas space. The canvas has no border, but its
  // clientLeft/Top are honoured in case a style adds one.
  function toCanvas(ev) {
    var r = canvas.getBoundingClientRect();
    var w = canvas.clientWidth || r.width;
    var h = canvas.clientHeight || r.height;
    var x = (ev.clientX - r.left - canvas.clientLeft) * SIZE / w;
    var y = (ev.clientY - r.top - canvas.clientTop) * SIZE / h;
    var t = ev.timeStamp - t0;
    var p = typeof ev.pressure === "number" ? ev.pressure : 0.5;
    return [
      round2(clamp(x, -MARGIN, SIZE + MARGIN)),
      round2(clamp(y, -MARGIN, SIZE + MARGIN)),
      Math.max(0, Math.round(t * 10) / 10),
      round2(clamp(p, 0, 1))
    ];
  }

  function clamp(v, lo, hi) { return v < lo ? lo : v > hi ? hi : v; }
  function round2(v) { return Math.round(v * 100) / 100; }

  function pointerKind(type) {
    return type === "mouse" || type === "touch" || type === "pen" ? type : null;
  }

  function add(ev) {
    var stroke = active.stroke;
    if (pointCount() >= MAX_POINTS) {
      setStatus("That drawing is very long. Clear it and draw the digit again.", "error");
      return;
    }
    var p = toCanvas(ev);
    var last = stroke.points[stroke.points.length - 1];
    if (last && last[0] === p[0] && last[1] === p[1]) return;
    stroke.points.push(p);
    if (last) segment(last, p);
  }

  canvas.addEventListener("pointerdown", function (ev) {
    if (active || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    ev.preventDefault();
    try { canvas.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic pointer */ }
    if (t0 === null) t0 = ev.timeStamp;
    var stroke = { pointer: pointerKind(ev.pointerType), points: [] };
    strokes.push(stroke);
    active = { id: ev.pointerId, stroke: stroke };
    drawingChanged();
    add(ev);
    if (stroke.points.length) dot(stroke.points[0]);
    placeholder.classList.add("hidden");
  });

  canvas.addEventListener("pointermove", function (ev) {
    if (!active || ev.pointerId !== active.id) return;
    ev.preventDefault();
    var events = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
    if (!events.length) events = [ev];
    for (var i = 0; i < events.length; i++) add(events[i]);
  });

  function end(ev) {
    if (!active || ev.pointerId !== active.id) return;
    if (ev.type === "pointerup") add(ev);
    if (!active.stroke.points.length) strokes.pop();
    active = null;
  }

  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);
  // No context menu, selection or scrolling gestures on the drawing.
  canvas.addEventListener("contextmenu", function (ev) { ev.preventDefault(); });
  canvas.addEventListener("touchstart", function (ev) { ev.preventDefault(); }, { passive: false });
  canvas.addEventListener("touchmove", function (ev) { ev.preventDefault(); }, { passive: false });

  // ---- controls ----

  function drawingChanged() { submissionId = null; }

  function choose(d) {
    label = d;
    submissionId = null;
    digitBtns.forEach(function (b) {
      b.setAttribute("aria-checked", String(Number(b.getAttribute("data-digit")) === d));
    });
  }

  function undo() {
    if (active || sending || !strokes.length) return;
    strokes.pop();
    drawingChanged();
    if (!strokes.length) t0 = null;
    redraw();
  }

  function clear() {
    if (sending) return;
    active = null;
    strokes = [];
    t0 = null;
    drawingChanged();
    redraw();
  }

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "status" + (kind ? " " + kind : "");
  }

  function submit() {
    if (sending) return;  // a double tap sends once
    if (!strokes.length) { setStatus("Draw a digit first.", "error"); return; }
    if (label === null) { setStatus("Choose which digit you drew: tap one of the numbers.", "error"); return; }
    if (!submissionId) submissionId = "s-" + randomId(24);
    var body = JSON.stringify({
      label: label,
      strokes: strokes,
      session: session,
      submission_id: submissionId
    });
    sending = true;
    submitBtn.disabled = true;
    setStatus("Saving…", "busy");
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    fetch("/api/samples", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": submissionId },
      body: body,
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { /* not JSON: a proxy's page */ }
        return { res: res, data: data };
      });
    }).then(function (r) {
      if (r.res.status === 201 && r.data) {
        setStatus("Saved " + r.data.label + " — " + r.data.filename, "ok");
        strokes = [];
        t0 = null;
        submissionId = null;
        choose(null);
        redraw();
        refreshStats();
      } else {
        setStatus(failure(r.res, r.data), "error");
      }
    }).catch(function (e) {
      var why = e && e.name === "AbortError"
        ? "The station did not answer in time."
        : (navigator.onLine === false ? "This device is offline." : "No connection to the station.");
      setStatus(why + " Your drawing is kept: check the Wi-Fi and press Submit again.", "error");
    }).then(function () {
      clearTimeout(timer);
      sending = false;
      submitBtn.disabled = false;
    });
  }

  function failure(res, data) {
    var said = data && (data.error || data.message);
    if (res.status === 429) {
      var wait = parseInt(res.headers.get("Retry-After") || "", 10);
      return "Too many submissions from this device" + (wait > 0 ? "; wait " + wait + " s" : "; wait a moment") +
        " and press Submit again. Your drawing is kept.";
    }
    if (res.status >= 500) {
      return "The station cannot save right now" + (said ? " (" + said + ")" : "") +
        ". Your drawing is kept; try Submit again.";
    }
    return "Not saved: " + (said || ("the station answered " + res.status)) + ".";
  }

  digitBtns.forEach(function (b) {
    b.addEventListener("click", function () { choose(Number(b.getAttribute("data-digit"))); });
  });
  undoBtn.addEventListener("click", undo);
  clearBtn.addEventListener("click", clear);
  submitBtn.addEventListener("click", submit);

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var k = ev.key;
    if (k >= "0" && k <= "9" && k.length === 1) { choose(Number(k)); ev.preventDefault(); }
    else if (k === "Enter") { submit(); ev.preventDefault(); }
    else if (k === "Backspace") { undo(); ev.preventDefault(); }
    else if (k === "Escape") { clear(); ev.preventDefault(); }
  });

  // ---- counts ----

  function refreshStats() {
    fetch("/api/stats", { cache: "no-store" }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (s) {
      if (s && s.per_label) showCounts(s.total, s.per_label);
    }).catch(function () { /* offline: keep the last counts */ });
  }

  function showCounts(total, per) {
    var most = Math.max.apply(null, per.concat([1]));
    var fewest = Math.min.apply(null, per);
    var next = per.indexOf(fewest);
    cols.forEach(function (col, d) {
      col.querySelector(".n").textContent = String(per[d]);
      col.querySelector(".fill").style.height = (100 * per[d] / most).toFixed(1) + "%";
      col.classList.toggle("fewest", d === next);
    });
    digitBtns.forEach(function (b, d) { b.classList.toggle("fewest", d === next); });
    totalEl.innerHTML = "";
    var b = document.createElement("b");
    b.textContent = String(total);
    totalEl.appendChild(b);
    totalEl.appendChild(document.createTextNode(total === 1 ? " sample collected" : " samples collected"));
    suggestEl.innerHTML = "";
    suggestEl.appendChild(document.createTextNode("Fewest so far: "));
    var n = document.createElement("b");
    n.textContent = String(next);
    suggestEl.appendChild(n);
    suggestEl.appendChild(document.createTextNode(". Draw that one if you can."));
    document.getElementById("counts").setAttribute("aria-label",
      "Samples per digit: " + per.map(function (c, d) { return d + ": " + c; }).join(", "));
  }

  window.addEventListener("resize", resize);
  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);
  resize();
  refreshStats();
  setInterval(function () { if (!document.hidden) refreshStats(); }, STATS_EVERY_MS);
})();
