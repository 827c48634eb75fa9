import TelmeFiles

/// The HTML of `telme report`: one self-contained page (inline CSS, inline script, inline SVG
/// drawn by the script; nothing is fetched). The data is a JSON document in a
/// `<script type="application/json">` element, made safe by `RunReport.payloadJSON`; the script
/// only ever puts record text into the page with `textContent`, never as markup.
///
/// When the script has drawn everything it sets `data-rendered` on `<body>` to the number of
/// utterance segments drawn and writes the time it took into `#rendered` (the browser test reads
/// both); an exception sets `data-render-error` instead.
enum ReportPage {
    static func html(title: String, payload: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
        <title>\(escape(title))</title>
        <style>\(css)</style>
        </head>
        <body>
        <main id="page"><h1 id="title"></h1><p id="summary"></p><p id="rendered"></p></main>
        <div id="tip" hidden></div>
        <script type="application/json" id="telme-data">\(payload)</script>
        <script>\(script)</script>
        </body>
        </html>

        """
    }

    /// Text for an HTML text node or attribute value.
    static func escape(_ text: String) -> String {
        text.escaped { scalar in
            switch scalar {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            case "\"": "&quot;"
            case "'": "&#39;"
            default: nil
            }
        }
    }

    static let css = """
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fafafa;margin:0}
        main{max-width:1000px;margin:0 auto;padding:16px 20px 60px}
        h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        h3{font-size:14px;margin:14px 0 2px;font-weight:600}
        #summary,#rendered,.note{color:#555}#rendered{font-size:12px}
        .legend span{display:inline-block;margin:0 12px 4px 0;white-space:nowrap}
        .sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
        table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0}
        td,th{padding:3px 8px;border:1px solid #e2e2e2;text-align:right}th{background:#f0f0f0;font-weight:600}
        td.l,th.l{text-align:left}.big{font-size:22px;font-weight:600}
        .stat{display:inline-block;margin-right:28px;color:#555;font-size:12px}.stat .big{color:#222}
        .cm td{min-width:34px}
        .dlg{background:#fff;border:1px solid #e4e4e4;border-radius:4px;margin:8px 0;padding:4px 8px}
        .dlg svg{display:block}.dlg rect[data-u]{cursor:default}
        .dlg rect[data-u]:hover{stroke:#000;stroke-width:1.5}
        #tip{position:fixed;z-index:9;max-width:420px;background:#fff;border:1px solid #999;border-radius:4px;
        box-shadow:0 2px 8px rgba(0,0,0,.2);padding:8px 10px;font-size:13px;pointer-events:none}
        #tip .t{margin:4px 0 6px;white-space:pre-wrap;word-wrap:break-word}
        #tip .bar{display:inline-block;height:9px;vertical-align:middle;border-radius:1px}
        #tip table td{border:none;padding:0 4px}
        .prov td{text-align:left;font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
        """

    static let script = #"""
        (function () {
        "use strict";
        var started = performance.now();
        window.addEventListener("error", function (e) { document.body.setAttribute("data-render-error", String(e.message)); });
        var D = JSON.parse(document.getElementById("telme-data").textContent);
        var SVGNS = "http://www.w3.org/2000/svg";
        var KNOWN = {anger: "#d62728", ang: "#d62728", disgust: "#2ca02c", fear: "#9467bd", joy: "#f2b701", hap: "#f2b701",
          exc: "#ff7f0e", fru: "#8c564b", neutral: "#a0a0a0", neu: "#a0a0a0", sadness: "#1f77b4", sad: "#1f77b4",
          surprise: "#17becf"};
        var EXTRA = ["#e377c2", "#bcbd22", "#8c564b", "#ff9896", "#c5b0d5", "#98df8a", "#ffbb78"];
        var colour = D.classes.map(function (c, i) { return KNOWN[c] || EXTRA[i % EXTRA.length]; });
        var page = document.getElementById("page");

        function el(tag, cls, text) {
          var e = document.createElement(tag);
          if (cls) e.className = cls;
          if (text !== undefined) e.textContent = text;
          return e;
        }
        function sv(tag, attrs) {
          var e = document.createElementNS(SVGNS, tag);
          for (var k in attrs) e.setAttribute(k, attrs[k]);
          return e;
        }
        function pct(x) { return (100 * x).toFixed(1) + "%"; }
        function swatch(i) { var s = el("span", "sw"); s.style.background = colour[i]; return s; }
        function row(table, cells, header) {
          var tr = el("tr");
          cells.forEach(function (c, i) {
            var td = el(header ? "th" : "td", i === 0 ? "l" : "");
            if (c instanceof Node) td.appendChild(c); else td.textContent = c;
            tr.appendChild(td);
          });
          table.appendChild(tr);
          return tr;
        }
        function clock(s) {
          var m = Math.floor(s / 60), r = s - 60 * m;
          return m + ":" + (r < 10 ? "0" : "") + r.toFixed(1);
        }

        document.title = D.title;
        document.getElementById("title").textContent = D.title;
        var utterances = D.dialogues.reduce(function (n, d) { return n + d.utterances.length; }, 0);
        document.getElementById("summary").textContent = utterances + " utterances in " + D.dialogues.length +
          " dialogues, " + D.speakers.length + " speakers. Records: " + (D.records.ok || 0) + " ok, " +
          (D.records.degraded || 0) + " degraded, " + (D.records.failed || 0) + " failed.";
        var legend = el("p", "legend");
        D.classes.forEach(function (c, i) {
          var s = el("span"); s.appendChild(swatch(i)); s.appendChild(document.createTextNode(c +
            (i >= D.modelClasses ? " (gold only)" : ""))); legend.appendChild(s);
        });
        page.appendChild(legend);

        // Scores: telme evaluate's own numbers.
        if (D.evaluation) {
          var E = D.evaluation, M = E.metrics;
          page.appendChild(el("h2", "", "Scores against gold (telme evaluate)"));
          var p = el("p");
          [["weighted F1", M.weighted.f1], ["accuracy", M.accuracy], ["macro F1", M.macro.f1]].forEach(function (s) {
            var b = el("span", "stat"); b.appendChild(el("span", "big", pct(s[1]))); b.appendChild(el("br"));
            b.appendChild(document.createTextNode(s[0])); p.appendChild(b);
          });
          page.appendChild(p);
          page.appendChild(el("p", "note", M.count + " utterances scored (" + E.counts.failed + " failed and " +
            E.counts.withoutGold + " without gold left out; " + E.counts.degraded + " of the scored degraded)."));
          var t = el("table");
          row(t, ["class", "precision", "recall", "F1", "support", "predicted"], true);
          M.classes.forEach(function (c) {
            var name = el("span"); var k = D.classes.indexOf(c.label);
            if (k >= 0) name.appendChild(swatch(k));
            name.appendChild(document.createTextNode(c.label));
            row(t, [name, pct(c.precision), pct(c.recall), pct(c.f1), String(c.support), String(c.predicted)]);
          });
          page.appendChild(t);
          page.appendChild(el("h3", "", "Confusion matrix (rows gold, columns predicted)"));
          var cm = el("table", "cm");
          row(cm, ["gold \\ predicted"].concat(M.labels), true);
          M.confusion.forEach(function (r, g) {
            var total = r.reduce(function (a, b) { return a + b; }, 0);
            var tr = row(cm, [M.labels[g]].concat(r.map(String)));
            r.forEach(function (n, q) {
              var share = total ? n / total : 0, td = tr.children[q + 1];
              td.style.background = "rgba(" + (q === g ? "44,160,44," : "214,39,40,") + (0.85 * share).toFixed(3) + ")";
              td.title = n + " of " + total + " (" + pct(share) + ")";
            });
          });
          page.appendChild(cm);
        } else if (D.evaluationError) {
          page.appendChild(el("h2", "", "Scores against gold"));
          page.appendChild(el("p", "note", "No scores: " + D.evaluationError));
        }

        // Distribution: one stacked bar per row.
        function stacked(rows, key) {
          var W = 960, left = 180, H = 20, s = sv("svg", {width: W, height: rows.length * H + 4});
          rows.forEach(function (r, k) {
            var counts = r[key], total = counts.reduce(function (a, b) { return a + b; }, 0), x = left;
            var name = sv("text", {x: 0, y: k * H + 14, "font-size": 12});
            name.textContent = (r.name.length > 24 ? r.name.slice(0, 23) + "\u2026" : r.name) + " (" + total + ")";
            s.appendChild(name);
            counts.forEach(function (n, c) {
              if (!n) return;
              var w = (W - left - 4) * n / total;
              var b = sv("rect", {x: x.toFixed(1), y: k * H + 2, width: w.toFixed(1), height: H - 5, fill: colour[c]});
              var tt = sv("title", {}); tt.textContent = D.classes[c] + ": " + n + " (" + pct(n / total) + ")";
              b.appendChild(tt); s.appendChild(b);
              x += w;
            });
          });
          return s;
        }
        page.appendChild(el("h2", "", "Class distribution"));
        var hasGold = D.overall.gold.some(function (n) { return n > 0; });
        var overall = [{name: "predicted", predicted: D.overall.predicted}];
        if (hasGold) overall.push({name: "gold", predicted: D.overall.gold});
        page.appendChild(stacked(overall, "predicted"));
        page.appendChild(el("h3", "", "Predicted, per speaker" + (D.perSpeaker.length > 30 ? " (the 30 with most utterances)" : "")));
        page.appendChild(stacked(D.perSpeaker, "predicted"));

        // Modalities.
        page.appendChild(el("h2", "", "Modalities"));
        var statuses = ["ok", "missing", "zeroed", "error"];
        ["text", "audio", "video"].forEach(function (m) {
          Object.keys(D.media[m] || {}).forEach(function (s) { if (statuses.indexOf(s) < 0) statuses.push(s); });
        });
        var mt = el("table");
        row(mt, ["medium"].concat(statuses), true);
        ["text", "audio", "video"].forEach(function (m) {
          row(mt, [m].concat(statuses.map(function (s) { return String((D.media[m] || {})[s] || 0); })));
        });
        page.appendChild(mt);

        // Timelines.
        page.appendChild(el("h2", "", "Dialogues"));
        page.appendChild(el("p", "note", "One lane per speaker; each segment is an utterance coloured by its label, " +
          "opaque in proportion to its confidence; the thin strip under it is the gold label. Placed by time when " +
          "every utterance of the dialogue has one, else one slot per utterance. Hover for the text and all probabilities."));
        var drawn = 0, box = el("div"), fragment = document.createDocumentFragment();
        D.dialogues.forEach(function (d, di) {
          var us = d.utterances, lanes = [], lane = {};
          us.forEach(function (u) { if (!(u[0] in lane)) { lane[u[0]] = lanes.length; lanes.push(u[0]); } });
          var timed = us.every(function (u) { return u[1] !== null && u[2] !== null && u[2] >= u[1]; });
          var t0 = Infinity, t1 = -Infinity;
          if (timed) us.forEach(function (u) { t0 = Math.min(t0, u[1]); t1 = Math.max(t1, u[2]); });
          if (!(t1 - t0 > 0 && t1 - t0 < 86400)) timed = false;
          var W = 960, left = 130, inner = W - left - 8, LH = 18, H = lanes.length * LH + 16;
          var wrap = el("div", "dlg");
          var head = el("h3", "", "dialogue " + d.id + " \u00b7 " + us.length + " utterances" +
            (timed ? " \u00b7 " + clock(t1 - t0) : ""));
          head.title = d.source;
          wrap.appendChild(head);
          var s = sv("svg", {width: W, height: H});
          lanes.forEach(function (sp, k) {
            var name = D.speakers[sp] || "(no speaker)";
            var t = sv("text", {x: 0, y: k * LH + 13, "font-size": 12});
            t.textContent = name.length > 20 ? name.slice(0, 19) + "\u2026" : name;
            s.appendChild(t);
            s.appendChild(sv("line", {x1: left, x2: W - 8, y1: k * LH + 16.5, y2: k * LH + 16.5, stroke: "#eee"}));
          });
          us.forEach(function (u, i) {
            var x, w;
            if (timed) { x = left + (u[1] - t0) / (t1 - t0) * inner; w = Math.max(2, (u[2] - u[1]) / (t1 - t0) * inner); }
            else { x = left + i / us.length * inner; w = Math.max(2, inner / us.length - 1); }
            var y = lane[u[0]] * LH + 1, conf = u[3] >= 0 ? u[6][u[3]] / 1000 : 0;
            var r = sv("rect", {x: x.toFixed(1), y: y, width: w.toFixed(1), height: 12, rx: 1,
              fill: u[3] >= 0 ? colour[u[3]] : "#fff", stroke: u[3] >= 0 ? "none" : "#c00",
              "fill-opacity": (u[3] >= 0 ? 0.2 + 0.8 * conf : 1).toFixed(2), "data-u": di + ":" + i});
            s.appendChild(r);
            if (u[4] >= 0) s.appendChild(sv("rect", {x: x.toFixed(1), y: y + 13, width: w.toFixed(1), height: 2.5,
              fill: colour[u[4]]}));
            drawn++;
          });
          var axis = sv("text", {x: left, y: H - 1, "font-size": 10, fill: "#888"});
          axis.textContent = timed ? "0:00.0" : "utterance 1";
          var end = sv("text", {x: W - 8, y: H - 1, "font-size": 10, fill: "#888", "text-anchor": "end"});
          end.textContent = timed ? clock(t1 - t0) : "utterance " + us.length;
          s.appendChild(axis); s.appendChild(end);
          wrap.appendChild(s);
          fragment.appendChild(wrap);
        });
        box.appendChild(fragment);
        page.appendChild(box);

        // Hover: the utterance's text and every probability.
        var tip = document.getElementById("tip");
        box.addEventListener("mousemove", function (e) {
          var key = e.target.getAttribute && e.target.getAttribute("data-u");
          if (!key) { tip.hidden = true; return; }
          var at = key.split(":"), d = D.dialogues[+at[0]], u = d.utterances[+at[1]];
          tip.textContent = "";
          var who = el("b", "", (D.speakers[u[0]] || "(no speaker)"));
          tip.appendChild(who);
          tip.appendChild(document.createTextNode(" \u00b7 dialogue " + d.id + ", utterance " + at[1] +
            (u[1] !== null && u[2] !== null ? " \u00b7 " + u[1].toFixed(2) + "\u2013" + u[2].toFixed(2) + " s" : "")));
          tip.appendChild(el("div", "t", u[7]));
          tip.appendChild(el("div", "", "label: " + (u[3] >= 0 ? D.classes[u[3]] : "none") +
            (u[4] >= 0 ? " \u00b7 gold: " + D.classes[u[4]] : "") + " \u00b7 media (text audio video): " + u[8] +
            (u[5] ? " \u00b7 " + ["ok", "degraded", "failed"][u[5]] : "")));
          if (u[9]) tip.appendChild(el("div", "note", u[9]));
          var t = el("table");
          u[6].forEach(function (p, c) {
            var tr = el("tr"), name = el("td", "l"), bar = el("td", "l"), val = el("td");
            name.appendChild(swatch(c)); name.appendChild(document.createTextNode(D.classes[c]));
            if (c === u[3]) name.style.fontWeight = "600";
            var b = el("span", "bar"); b.style.width = Math.max(1, p / 5) + "px"; b.style.background = colour[c];
            bar.appendChild(b); val.textContent = (p / 10).toFixed(1) + "%";
            tr.appendChild(name); tr.appendChild(bar); tr.appendChild(val); t.appendChild(tr);
          });
          tip.appendChild(t);
          tip.hidden = false;
          var x = e.clientX + 14, y = e.clientY + 14;
          if (x + tip.offsetWidth > window.innerWidth) x = Math.max(0, e.clientX - tip.offsetWidth - 14);
          if (y + tip.offsetHeight > window.innerHeight) y = Math.max(0, e.clientY - tip.offsetHeight - 14);
          tip.style.left = x + "px"; tip.style.top = y + "px";
        });
        box.addEventListener("mouseleave", function () { tip.hidden = true; });

        // Provenance.
        page.appendChild(el("h2", "", "Provenance (run.json)"));
        var pt = el("table", "prov");
        D.provenance.forEach(function (r) { row(pt, r); });
        page.appendChild(pt);

        var ms = performance.now() - started;
        document.getElementById("rendered").textContent = "Drawn: " + drawn + " utterances in " + ms.toFixed(0) + " ms.";
        document.body.setAttribute("data-render-ms", ms.toFixed(0));
        document.body.setAttribute("data-rendered", String(drawn));
        })();
        """#
}
