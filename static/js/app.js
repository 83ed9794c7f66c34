// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var field = document.querySelector(copy.dataset.copy);
      if (field && navigator.clipboard) {
        navigator.clipboard.writeText(field.value).then(function () {
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = "Copy"; }, 1500);
        });
      }
    }
  });

  // A field shown once (a new API key) selects itself on focus, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // One click, one submission: money forms must not be sent twice.
    var button = form.querySelector("button[type=submit]:not([name])");
    if (button && !form.hasAttribute("hx-get")) {
      setTimeout(function () { button.disabled = true; button.setAttribute("aria-busy", "true"); }, 0);
    }
  });

  function initCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      if (navigator.clipboard) b.hidden = false;
    });
  }

  function initPayForm() {
    var form = document.querySelector("[data-pay-form]");
    if (!form) return;
    var card = form.querySelector("[data-card-fields]");
    function sync() {
      var chosen = form.querySelector("input[name=source]:checked");
      card.hidden = !chosen || chosen.value !== "CARD";
    }
    form.addEventListener("change", sync);
    sync();
  }

  // Escrow form: add/remove milestone rows in the page and check the sum as you type.
  function initEscrowForm() {
    var form = document.querySelector("[data-escrow-form]");
    if (!form) return;
    var rows = form.querySelector("[data-rows]");
    var template = form.querySelector("[data-row-template]");
    var total = form.querySelector("input[name$='-TOTAL_FORMS']");
    var amount = form.querySelector("#id_amount");
    var currency = form.querySelector("#id_currency");
    var check = form.querySelector("[data-sum-check]");
    var addButton = form.querySelector("[data-add-row]");

    var exponents = JSON.parse(form.dataset.exponents || "{}");
    function exponent() {
      var e = exponents[currency.value];
      return typeof e === "number" ? e : 2;
    }
    // Exact: amounts become BigInt minor units, never floats.
    function toMinor(value) {
      var v = (value || "").trim().replace(/,/g, "");
      if (!/^\d+(\.\d+)?$/.test(v)) return null;
      var parts = v.split(".");
      var exp = exponent();
      var frac = parts[1] || "";
      if (frac.length > exp) return null;
      return BigInt(parts[0]) * 10n ** BigInt(exp) + BigInt(frac.padEnd(exp, "0") || "0");
    }
    function fmt(minor) {
      var exp = BigInt(exponent());
      var unit = 10n ** exp;
      var neg = minor < 0n;
      if (neg) minor = -minor;
      var whole = (minor / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
      var frac = exp > 0n ? "." + (minor % unit).toString().padStart(Number(exp), "0") : "";
      return (neg ? "-" : "") + whole + frac + " " + currency.value;
    }
    function liveRows() {
      return Array.prototype.filter.call(rows.querySelectorAll("[data-row]"), function (r) {
        var del = r.querySelector("input[name$='-DELETE']");
        return !(del && del.checked);
      });
    }
    function update() {
      var target = toMinor(amount.value);
      var sum = 0n, bad = false, count = 0;
      liveRows().forEach(function (r) {
        var input = r.querySelector("[data-milestone-amount]");
        if (!input.value.trim()) return;
        var c = toMinor(input.value);
        if (c === null) { bad = true; return; }
        sum += c; count += 1;
      });
      check.className = "sum-check";
      if (bad) { check.textContent = "A milestone amount is not a number."; check.classList.add("is-bad"); return; }
      if (target === null) { check.textContent = count ? "Milestones add up to " + fmt(sum) + "." : ""; return; }
      var diff = target - sum;
      if (diff === 0n && count >= 2) {
        check.textContent = "✓ Milestones add up to the escrow amount (" + fmt(sum) + ").";
        check.classList.add("is-ok");
      } else if (diff === 0n) {
        check.textContent = "Add at least two milestones.";
        check.classList.add("is-bad");
      } else if (diff > 0n) {
        check.textContent = "Milestones add up to " + fmt(sum) + ": " + fmt(diff) + " left to assign.";
        check.classList.add("is-bad");
      } else {
        check.textContent = "Milestones add up to " + fmt(sum) + ": " + fmt(-diff) + " more than the escrow amount.";
        check.classList.add("is-bad");
      }
    }
    function enhanceRow(row) {
      var del = row.querySelector("input[name$='-DELETE']");
      if (!del) return;
      var holder = row.querySelector(".remove");
      del.closest("label").hidden = true;
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "secondary outline remove-row";
      btn.textContent = "Remove";
      btn.setAttribute("aria-label", "Remove this milestone");
      btn.addEventListener("click", function () {
        del.checked = true;
        row.hidden = true;
        update();
        // The fee quote (htmx) listens for changes on the form.
        del.dispatchEvent(new Event("change", { bubbles: true }));
      });
      holder.appendChild(btn);
      if (del.checked) row.hidden = true;
    }
    rows.querySelectorAll("[data-row]").forEach(enhanceRow);
    addButton.addEventListener("click", function (event) {
      event.preventDefault();
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var wrapper = document.createElement("ol");
      wrapper.innerHTML = html.trim();
      var row = wrapper.firstElementChild;
      rows.appendChild(row);
      total.value = String(index + 1);
      enhanceRow(row);
      row.querySelector("input").focus();
      update();
    });
    // The quote follows the typing (htmx): the no-JavaScript "Preview fees" round trip is not needed.
    var preview = form.querySelector("[data-preview-fees]");
    if (preview && window.htmx) preview.hidden = true;
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    initCopy();
    initPayForm();
    initEscrowForm();
  });
})();
