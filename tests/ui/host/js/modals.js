// openModal(path) / closeModal() (test stand-in): one .modal element holding the component.
export async function openModal(path) {
  const modal = document.createElement("div");
  modal.className = "modal";
  modal.dataset.path = path;
  modal.innerHTML = `<div class="modal-body"><x-component path="${path}"></x-component></div>`;
  document.getElementById("modals").appendChild(modal);
  return modal;
}

export async function closeModal() {
  document.querySelector("#modals .modal:last-child")?.remove();
}

globalThis.openModal = openModal;
globalThis.closeModal = closeModal;
