// #/clients — every client node, kept current by a blocking query on /v1/nodes.

import { watch } from "../api.js";
import { badge, h, link, section, table } from "../dom.js";
import { shortId } from "../format.js";
import { clientHref } from "../links.js";

/** Detected drivers by name; unhealthy ones are struck through with the reason as tooltip. */
export function driverList(drivers) {
  const names = Object.keys(drivers || {}).filter((n) => drivers[n].Detected).sort();
  if (!names.length) return h("span", { class: "muted" }, "none");
  return h("span", { class: "drivers", "data-test": "drivers" }, names.map((name, i) => {
    const info = drivers[name];
    return [i ? ", " : null, h("span", {
      class: info.Healthy ? "driver" : "driver unhealthy",
      title: info.Healthy ? "healthy" : (info.HealthDescription || "unhealthy"),
    }, name)];
  }));
}

export function eligibility(node) {
  const word = node.SchedulingEligibility || "eligible";
  return h("span", { class: word === "eligible" ? "" : "status-ineligible" },
    node.Drain ? `${word} (draining)` : word);
}

export function mount(root) {
  document.title = "Clients · nomadjail";
  const list = section({ "data-test": "clients" });
  root.append(h("h1", {}, "Clients"), list.root);

  return watch("/v1/nodes", {
    onError: (err) => list.fail(err),
    onData: (nodes) => {
      const columns = [
        {
          title: "ID",
          cell: (n) => link(clientHref(n.ID), shortId(n.ID),
            { "data-test": "client-link", class: "mono", title: n.ID }),
        },
        { title: "Name", cell: (n) => n.Name },
        { title: "Datacenter", cell: (n) => n.Datacenter },
        { title: "Address", cell: (n) => n.Address || "—" },
        { title: "Status", cell: (n) => badge(n.Status, { "data-test": "client-status" }) },
        { title: "Eligibility", cell: eligibility },
        { title: "Drivers", cell: (n) => driverList(n.Drivers) },
      ];
      list.show(table(columns, nodes || [], {
        test: "clients-table", rowTest: "client-row", rowKey: (n) => n.ID,
        empty: "No clients have registered.",
      }));
    },
  });
}
