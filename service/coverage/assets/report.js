"use strict";
// Sorting, filtering and disclosure for the coverage report; no network, no eval (the page's CSP).
const fold = text => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
const units = table => table.classList.contains("grouped") ? Array.from(table.tBodies) : Array.from(table.tBodies[0].rows);
const firstRow = unit => unit.rows ? unit.rows[0] : unit;

document.querySelectorAll("table.sortable thead th button").forEach(button => button.addEventListener("click", () => {
  const th = button.closest("th"), table = th.closest("table"), col = th.cellIndex;
  const asc = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("thead th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  const value = unit => { const cell = firstRow(unit).cells[col]; return cell.dataset.value ?? cell.textContent.trim(); };
  const sorted = units(table).sort((a, b) => {
    const x = value(a), y = value(b), nx = Number(x), ny = Number(y);
    const cmp = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y, "fr");
    return asc ? cmp : -cmp;
  });
  const parent = table.classList.contains("grouped") ? table : table.tBodies[0];
  sorted.forEach(unit => parent.appendChild(unit));
}));

document.querySelectorAll("button.toggle[aria-controls]").forEach(button => button.addEventListener("click", () => {
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  document.getElementById(button.getAttribute("aria-controls")).hidden = !open;
}));

document.querySelectorAll("[data-filters]").forEach(form => {
  const table = document.getElementById(form.dataset.filters);
  const text = form.querySelector("input[type=search]"), status = form.querySelector("select");
  const count = form.querySelector("output");
  const apply = () => {
    const wanted = fold(text.value.trim());
    let shown = 0;
    units(table).forEach(unit => {
      const row = firstRow(unit);
      const ok = (!wanted || fold(row.dataset.text ?? row.textContent).includes(wanted))
        && (!status || !status.value || row.dataset.status === status.value);
      unit.hidden = !ok;
      shown += ok;
    });
    count.textContent = `${shown} / ${units(table).length}`;
  };
  form.addEventListener("input", apply);
  form.addEventListener("submit", event => event.preventDefault());
});
