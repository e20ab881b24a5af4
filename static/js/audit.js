// Audit page: a click on a user or an entity filters by it; changing the kind applies at once.
(function () {
  'use strict';
  const form = document.getElementById('audit-filter');
  if (!form) return;
  form.elements.kind.addEventListener('change', () => form.submit());
  document.querySelectorAll('#audit-rows a.pick').forEach((link) => {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      form.elements[link.dataset.field].value = link.textContent;
      form.submit();
    });
  });
})();
