// The card page: Stripe's Payment Element in the form, confirmed by Stripe.js, which sends the
// buyer back to our return URL once the card is charged. A refused card stays on this page with
// Stripe's reason, ready for another card. Without JavaScript the form stays hidden and the page
// says card entry needs it, offering the wallet; without Stripe.js (blocked, offline) it says
// the form did not load, still offering the wallet.
(function () {
  "use strict";

  var form = document.querySelector("[data-stripe-card-form]");
  if (!form) return;
  var fallback = document.querySelector("[data-card-fallback]");
  if (typeof window.Stripe !== "function") {
    fallback.querySelector("[data-needs-javascript]").hidden = true;
    fallback.querySelector("[data-stripe-unavailable]").hidden = false;
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("[data-payment-element]");
  fallback.hidden = true;
  form.hidden = false;

  var error = form.querySelector("[data-card-error]");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    stripe
      .confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        if (!result || !result.error) return;
        error.textContent = result.error.message;
        error.hidden = false;
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
  });
})();
