(function () {
  "use strict";
  var table = document.getElementById("flags-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(row, i, numeric) {
    var cell = row.cells[i];
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent.trim(); }
    if (numeric) { var x = parseFloat(v); return isNaN(x) ? -Infinity : x; }
    return v.toLowerCase();
  }
  Array.prototype.forEach.call(heads, function (th, i) {
    th.tabIndex = 0;
    th.title = "Sort by this column";
    function sort() {
      var numeric = th.getAttribute("data-type") === "num";
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      var rows = Array.prototype.slice.call(body.rows).map(function (r, k) { return [r, k]; });
      rows.sort(function (a, b) {
        var ka = key(a[0], i, numeric), kb = key(b[0], i, numeric);
        return ka < kb ? -dir : ka > kb ? dir : a[1] - b[1];
      });
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      rows.forEach(function (r) { body.appendChild(r[0]); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });
  var box = document.getElementById("flags-filter");
  var kind = document.getElementById("filter-kind");
  var text = document.getElementById("filter-text");
  var shown = document.getElementById("filter-count");
  function filter() {
    var k = kind.value, t = text.value.trim().toLowerCase(), n = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var ok = (!k || r.getAttribute("data-kind") === k) && (!t || r.textContent.toLowerCase().indexOf(t) >= 0);
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + body.rows.length + " cases shown";
  }
  if (box) {
    box.hidden = false;
    kind.addEventListener("change", filter);
    text.addEventListener("input", filter);
    filter();
  }
}());
