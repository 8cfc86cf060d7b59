// Endpoints: the things being enforced (a container's network namespace), as an inventory file
// or a container source describes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/model/address.h"
#include "policy/model/diagnostic.h"
#include "policy/model/model.h"
#include "policy/model/selector.h"

namespace bulkhead::policy {

inline constexpr const char* kNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

struct NamedPort {
  std::string name;
  uint16_t port = 0;
  Protocol proto = Protocol::tcp;  // tcp, udp or sctp
};

struct Endpoint {
  std::string name;   // unique
  std::string netns;  // path of the netns bind mount or /proc/PID/ns/net
  Labels labels;
  std::vector<IpAddr> addresses;  // may be empty until read from the namespace
  std::vector<NamedPort> ports;   // sorted by name
  // The cluster node the endpoint runs on, "" for this host. A remote endpoint (docs/cluster.md)
  // is a peer only: rules see it in their peer sets, but it is never programmed here.
  std::string node;
  // Endpoints that cannot be segmented safely in their own namespace (lint warns, status reports).
  bool host_network = false;
  bool privileged = false;
  bool net_admin = false;
  SourcePos pos;

  // The Kubernetes namespace: label io.kubernetes.pod.namespace, else "default".
  std::string k8s_namespace() const;
};

using Endpoints = std::vector<Endpoint>;  // sorted by name

}  // namespace bulkhead::policy
