/* The border desk's request page follows the guardians' answer by itself.
 *
 * Progressive enhancement only: without this script the page refreshes itself every five
 * seconds while the request is pending and has a Refresh link. With it, the page asks
 * status.json every second, updates the status words (read out by screen readers: the
 * element has role "status") and shows the buttons that fit the new status.
 */
(function () {
  "use strict";

  var box = document.querySelector("[data-status-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var words = document.getElementById("status-words");
  var reason = document.getElementById("status-reason");
  var timeLeft = document.getElementById("time-left-text");
  var problem = document.getElementById("poll-problem");
  var nobodyReached = document.getElementById("nobody-reached");
  var current = box.getAttribute("data-status");
  var deliveries = box.getAttribute("data-deliveries");
  var failures = 0;
  var CLOSED = ["crossed", "turned-back"];
  var FAST = 1000;
  // Once the guardians have answered, only the clock and an expiry can still change.
  var SLOW = 5000;

  function showSectionsFor(status) {
    var sections = document.querySelectorAll("[data-when]");
    for (var i = 0; i < sections.length; i += 1) {
      var statuses = sections[i].getAttribute("data-when").split(" ");
      sections[i].hidden = statuses.indexOf(status) < 0;
    }
  }

  function update(data) {
    if (data.status !== current) {
      current = data.status;
      box.setAttribute("data-status", current);
      words.className = "status-badge " + current;
      words.textContent = data.words;
      reason.textContent = data.reason;
      reason.hidden = !data.reason;
      showSectionsFor(current);
    }
    timeLeft.textContent = data.time_left;
    // The list of messages to the guardians is the server's, in the officer's language:
    // when a message's state changes, the page is read again rather than patched here.
    if (data.deliveries !== null && data.deliveries !== deliveries && current === "pending") {
      window.location.reload();
      return;
    }
    if (nobodyReached) {
      nobodyReached.hidden = !data.nobody_reached;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        problem.hidden = true;
        update(data);
      })
      .catch(function () {
        failures += 1;
        // A blip is normal on a border post's network; a minute of silence is not.
        problem.hidden = failures < 5;
      })
      .then(function () {
        if (CLOSED.indexOf(current) < 0) {
          window.setTimeout(poll, current === "pending" ? FAST : SLOW);
        }
      });
  }

  window.setTimeout(poll, FAST);
})();
