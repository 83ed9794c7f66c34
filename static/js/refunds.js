// Mutual cancellation form: say as you type whether the split adds up to what is held.
// Progressive enhancement only: the server checks the same rule.
(function () {
  "use strict";

  function toMinor(text, exponent) {
    text = (text || "").trim();
    if (!/^\d+(\.\d+)?$/.test(text)) return null;
    var parts = text.split(".");
    var frac = parts[1] || "";
    if (frac.length > exponent) return null;
    while (frac.length < exponent) frac += "0";
    return parseInt(parts[0] + frac, 10);
  }

  function format(minor, exponent) {
    var s = String(minor);
    if (!exponent) return s;
    while (s.length <= exponent) s = "0" + s;
    return s.slice(0, -exponent) + "." + s.slice(-exponent);
  }

  function init() {
    var form = document.querySelector("[data-split-form]");
    if (!form) return;
    var held = parseInt(form.dataset.held, 10);
    var exponent = parseInt(form.dataset.exponent, 10);
    var currency = form.dataset.currency;
    var buyer = form.querySelector("[name=buyer_amount]");
    var seller = form.querySelector("[name=seller_amount]");
    var check = form.querySelector("[data-split-check]");
    var submit = form.querySelector("[data-action=send-proposal]");
    function sync() {
      var b = toMinor(buyer.value, exponent);
      var s = toMinor(seller.value, exponent);
      if (b === null && s === null) {
        check.textContent = "";
        submit.disabled = false;
        return;
      }
      if (b === null || s === null) {
        check.textContent = "Enter both amounts, like " + format(held, exponent) + ".";
        check.dataset.ok = "false";
      } else if (b + s === held) {
        check.textContent = "Adds up to " + format(held, exponent) + " " + currency + ".";
        check.dataset.ok = "true";
      } else {
        var diff = held - (b + s);
        check.textContent = "Adds up to " + format(b + s, exponent) + " " + currency + "; " +
          (diff > 0 ? format(diff, exponent) + " short of " : format(-diff, exponent) + " over ") +
          format(held, exponent) + ".";
        check.dataset.ok = "false";
      }
      submit.disabled = check.dataset.ok !== "true";
    }
    // Typing one amount fills in the other when it can.
    buyer.addEventListener("input", function () {
      var b = toMinor(buyer.value, exponent);
      if (b !== null && b <= held) seller.value = format(held - b, exponent);
      sync();
    });
    seller.addEventListener("input", sync);
    sync();
    form.dataset.enhanced = "true";  // the live check is on (tests wait for it before typing)
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
