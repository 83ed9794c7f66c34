// A stand-in for Stripe.js (https://js.stripe.com/v3/), served by tests/stripe_fake.py at GET /v3/.
// Only what our card page uses: Stripe(publishableKey), elements({clientSecret}),
// elements.create("payment").mount(selector), and confirmPayment({elements, confirmParams}).
// The Payment Element here is a choice of Stripe's test cards instead of card fields.
// confirmPayment calls the fake as Stripe.js calls Stripe: the publishable key and the
// PaymentIntent's client secret; a charged card goes to return_url with the parameters Stripe
// adds, a declined one resolves with Stripe's error and stays on the page.
(function () {
  "use strict";

  var api = new URL(document.currentScript.src).origin;
  var CARDS = [
    ["pm_card_visa", "Visa ending 4242 (succeeds)"],
    ["pm_card_chargeDeclined", "Visa ending 0002 (declined)"],
  ];

  window.Stripe = function (publishableKey) {
    var clientSecret = "";
    var mounted = null;

    function elements(options) {
      clientSecret = options.clientSecret;
      return {
        create: function (type) {
          if (type !== "payment") throw new Error("Only the Payment Element is faked: " + type);
          return {
            mount: function (selector) {
              var target = typeof selector === "string" ? document.querySelector(selector) : selector;
              var fieldset = document.createElement("fieldset");
              var legend = document.createElement("legend");
              legend.textContent = "Test card";
              fieldset.appendChild(legend);
              CARDS.forEach(function (card, index) {
                var label = document.createElement("label");
                var input = document.createElement("input");
                input.type = "radio";
                input.name = "stripe-test-card";
                input.value = card[0];
                input.checked = index === 0;
                label.appendChild(input);
                label.appendChild(document.createTextNode(" " + card[1]));
                fieldset.appendChild(label);
              });
              target.appendChild(fieldset);
              mounted = fieldset;
            },
          };
        },
      };
    }

    function confirmPayment(options) {
      var intentId = clientSecret.split("_secret_")[0];
      var returnUrl = options.confirmParams.return_url;
      var chosen = mounted && mounted.querySelector("input:checked");
      var body = new URLSearchParams({
        payment_method: chosen ? chosen.value : "",
        client_secret: clientSecret,
        return_url: returnUrl,
      });
      return fetch(api + "/v1/payment_intents/" + intentId + "/confirm", {
        method: "POST",
        headers: {
          Authorization: "Bearer " + publishableKey,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: body.toString(),
      })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) return { error: answer.error };
          var back = new URL(returnUrl);
          back.searchParams.set("payment_intent", answer.id);
          back.searchParams.set("payment_intent_client_secret", clientSecret);
          back.searchParams.set("redirect_status", answer.status === "succeeded" ? "succeeded" : "failed");
          window.location.assign(back.toString());
          return new Promise(function () {});  // the page is leaving
        });
    }

    return { elements: elements, confirmPayment: confirmPayment };
  };
})();
