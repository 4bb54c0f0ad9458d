// The notification store and toast helpers (test stand-in). A toast with a group replaces
// the group's earlier toast; each toast keeps type, title, message.
import { createStore } from "/js/AlpineStore.js";

const model = {
  toasts: [],
  add(type, message, title = "", display_time = 3, group = "") {
    if (group) this.toasts = this.toasts.filter((t) => t.group !== group);
    this.toasts = [...this.toasts, { id: Math.random().toString(36).slice(2), type, message, title, display_time, group }];
  },
  frontendInfo(message, title = "Info", display_time = 3, group = "") { this.add("info", message, title, display_time, group); },
  frontendSuccess(message, title = "Success", display_time = 3, group = "") { this.add("success", message, title, display_time, group); },
  frontendWarning(message, title = "Warning", display_time = 5, group = "") { this.add("warning", message, title, display_time, group); },
  frontendError(message, title = "Error", display_time = 8, group = "") { this.add("error", message, title, display_time, group); },
};

export const store = createStore("notificationStore", model);
export const toastFrontendInfo = (...a) => store.frontendInfo(...a);
export const toastFrontendSuccess = (...a) => store.frontendSuccess(...a);
export const toastFrontendWarning = (...a) => store.frontendWarning(...a);
export const toastFrontendError = (...a) => store.frontendError(...a);
Object.assign(globalThis, { toastFrontendInfo, toastFrontendSuccess, toastFrontendWarning, toastFrontendError });
