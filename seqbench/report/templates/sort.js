(function () {
  "use strict";
  function value(cell, numeric) {
    if (!numeric) { return cell.textContent.trim().toLowerCase(); }
    var text = cell.getAttribute("data-sort");
    var number = text === null || text === "" ? NaN : parseFloat(text);
    return isNaN(number) ? null : number;
  }
  function compare(x, y, ascending) {
    if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
    if (x === y) { return 0; }
    return (x < y) === ascending ? -1 : 1;
  }
  function sortBy(table, headers, index) {
    var th = headers[index];
    var numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) {
      if (!row.hasAttribute("data-order")) { row.setAttribute("data-order", String(i)); }
    });
    rows.sort(function (a, b) {
      var c = compare(value(a.cells[index], numeric), value(b.cells[index], numeric), ascending);
      return c !== 0 ? c : Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(headers, function (h) {
      h.setAttribute("aria-sort", h === th ? (ascending ? "ascending" : "descending") : "none");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(table, headers, index); }); }
    });
  });
})();
