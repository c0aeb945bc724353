/* An email preview frame (iframe[data-pp-fit], sandboxed without scripts but same
   origin so its height can be read) is made as tall as the email: no inner scroll. */
(function () {
  "use strict";
  function fit(frame) {
    try {
      var doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      frame.style.height = "0px";
      frame.style.height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0) + "px";
    } catch (e) { /* not readable: keep the height it has */ }
  }
  function watch(frame) {
    frame.addEventListener("load", function () {
      fit(frame);
      Array.prototype.forEach.call(frame.contentDocument.images, function (image) {
        image.addEventListener("load", function () { fit(frame); });
      });
    });
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit(frame);
  }
  window.ppWatchFrame = watch;  /* the block editor's live preview uses it too */
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("iframe[data-pp-fit]").forEach(watch);
  });
})();
