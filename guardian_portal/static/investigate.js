/* The findings report's "Print" button.
 *
 * The CSP allows no inline script, so the button is wired here. It is hidden in the page
 * and shown only once this script runs: without it, the browser's own Print command works.
 */
(function () {
  "use strict";

  var buttons = document.querySelectorAll("[data-print]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
