// #/clients/<id> — one client node: its status, drivers and allocations.

import { segment, watch } from "../api.js";
import { allocationsTable } from "../alloc_table.js";
import { badge, details, h, section, table } from "../dom.js";
import { shortId } from "../format.js";
import { driverList, eligibility } from "./clients.js";

function driversTable(drivers) {
  const names = Object.keys(drivers || {}).sort();
  const columns = [
    { title: "Driver", cell: (name) => name },
    { title: "Detected", cell: (name) => (drivers[name].Detected ? "yes" : "no") },
    { title: "Healthy", cell: (name) => (drivers[name].Healthy ? "yes" : "no") },
    { title: "Health", cell: (name) => drivers[name].HealthDescription || "—" },
  ];
  return table(columns, names, {
    test: "drivers-table", rowTest: "driver-row", rowKey: (n) => n, empty: "No drivers.",
  });
}

export function mount(root, { params }) {
  const [nodeId] = params;
  const api = `/v1/node/${segment(nodeId)}`;
  document.title = `Client ${shortId(nodeId)} · nomadjail`;

  const name = h("span", {}, shortId(nodeId));
  const title = h("span", {});
  const overview = section({ "data-test": "client-overview" });
  const drivers = section({ "data-test": "client-drivers" });
  const allocs = section({ "data-test": "client-allocations" });
  // Hidden until the node loads, so a missing node shows only its error.
  const rest = h("div", { hidden: true },
    h("h2", {}, "Drivers"), drivers.root,
    h("h2", {}, "Allocations"), allocs.root);
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/clients" }, "Clients"), " / ", shortId(nodeId)),
    h("h1", { "data-test": "client-title" }, "Client ", name, " ", title),
    overview.root, rest,
  );

  const stops = [
    watch(api, {
      onError: (err) => overview.fail(err),
      onData: (node) => {
        name.textContent = node.Name;
        rest.hidden = false;
        title.replaceChildren(badge(node.Status, { "data-test": "client-status" }));
        const attrs = node.Attributes || {};
        overview.show(details([
          ["ID", h("span", { class: "mono" }, node.ID), "id"],
          ["Name", node.Name, "name"],
          ["Datacenter", node.Datacenter, "datacenter"],
          ["Node pool", node.NodePool || "default", "node-pool"],
          ["Class", node.NodeClass || "—", "class"],
          ["Address", node.HTTPAddr || "—", "address"],
          ["Status", badge(node.Status), "status"],
          ["Eligibility", eligibility({ ...node, Drain: Boolean(node.DrainStrategy) }),
            "eligibility"],
          ["OS", [attrs["os.name"], attrs["kernel.name"], attrs["cpu.arch"]]
            .filter(Boolean).join(" / ") || "—", "os"],
          ["Drivers", driverList(node.Drivers), "drivers"],
        ]), node.StatusDescription ? h("p", { class: "muted" }, node.StatusDescription) : null);
        drivers.show(driversTable(node.Drivers));
      },
    }),
    watch(`${api}/allocations`, {
      onError: (err) => { if (err.status !== 404) allocs.fail(err); },
      onData: (data) => allocs.show(allocationsTable(data, { showJob: true, showNode: false })),
    }),
  ];
  return () => stops.forEach((stop) => stop());
}
