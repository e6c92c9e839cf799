// Progressive enhancement only: every page works without it. Brings the error summary into
// view and focus, as Designsystemet's guidance for forms asks.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-autofocus]");
  if (summary) { summary.focus(); }
});
