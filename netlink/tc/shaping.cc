#include "netlink/tc/shaping.h"

#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

namespace bulkhead::netlink {
namespace {

struct NlDeleter {
  void operator()(nl_cache* p) const { nl_cache_free(p); }
  void operator()(rtnl_link* p) const { rtnl_link_put(p); }
  void operator()(rtnl_qdisc* p) const { rtnl_qdisc_put(p); }
  void operator()(rtnl_class* p) const { rtnl_class_put(p); }
  void operator()(rtnl_cls* p) const { rtnl_cls_put(p); }
  void operator()(rtnl_act* p) const { rtnl_act_put(p); }
};
using CachePtr = std::unique_ptr<nl_cache, NlDeleter>;
using LinkPtr = std::unique_ptr<rtnl_link, NlDeleter>;
using QdiscPtr = std::unique_ptr<rtnl_qdisc, NlDeleter>;
using ClassPtr = std::unique_ptr<rtnl_class, NlDeleter>;
using ClsPtr = std::unique_ptr<rtnl_cls, NlDeleter>;
using ActPtr = std::unique_ptr<rtnl_act, NlDeleter>;

constexpr uint32_t kRootHandle = TC_HANDLE(1, 0);
constexpr uint32_t kClassId = TC_HANDLE(1, 1);
constexpr uint32_t kIngressHandle = TC_HANDLE(0xffff, 0);
constexpr uint32_t kFilterPrio = 1;

Result<CachePtr> link_cache(NlRouteSocket& s) {
  nl_cache* c = nullptr;
  if (int err = rtnl_link_alloc_cache(s.get(), AF_UNSPEC, &c); err < 0) {
    return nl_error("list links", err);
  }
  return CachePtr(c);
}

Result<CachePtr> qdisc_cache(NlRouteSocket& s) {
  nl_cache* c = nullptr;
  if (int err = rtnl_qdisc_alloc_cache(s.get(), &c); err < 0) return nl_error("list qdiscs", err);
  return CachePtr(c);
}

bool is_ifb(rtnl_link* l) {
  const char* type = rtnl_link_get_type(l);
  const char* name = rtnl_link_get_name(l);
  return (type && std::strcmp(type, "ifb") == 0) ||
         (name && std::strcmp(name, policy::kIfbName) == 0);
}

int default_route_ifindex(NlRouteSocket& s, int family) {
  nl_cache* c = nullptr;
  if (rtnl_route_alloc_cache(s.get(), family, 0, &c) < 0) return 0;
  CachePtr cache(c);
  for (nl_object* o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(r);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    if (dst != nullptr && nl_addr_get_prefixlen(dst) != 0) continue;
    if (rtnl_route_get_nnexthops(r) < 1) continue;
    if (int idx = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0)); idx > 0) return idx;
  }
  return 0;
}

// The root qdisc on ifindex if it is bulkhead's htb 1:, with its class 1:1.
Result<std::optional<policy::TcLimit>> read_limit(NlRouteSocket& s, nl_cache* qdiscs, int ifindex) {
  QdiscPtr root(rtnl_qdisc_get_by_parent(qdiscs, ifindex, TC_H_ROOT));
  if (!root) return std::optional<policy::TcLimit>();
  const char* kind = rtnl_tc_get_kind(TC_CAST(root.get()));
  if (!kind || std::strcmp(kind, "htb") != 0 ||
      rtnl_tc_get_handle(TC_CAST(root.get())) != kRootHandle) {
    return std::optional<policy::TcLimit>();
  }
  nl_cache* c = nullptr;
  if (int err = rtnl_class_alloc_cache(s.get(), ifindex, &c); err < 0) {
    return nl_error("list classes", err);
  }
  CachePtr classes(c);
  ClassPtr cls(rtnl_class_get(c, ifindex, kClassId));
  policy::TcLimit limit;
  if (cls) {
    uint64_t rate = 0;
    if (rtnl_htb_get_rate64(cls.get(), &rate) == 0) limit.rate_bits = rate * 8;
    limit.burst_bytes = rtnl_htb_get_rbuffer(cls.get());
  }
  // A root htb without our class still reads as a (zero) limit, so it never matches a plan.
  return std::optional<policy::TcLimit>(limit);
}

// Our htb as the root qdisc of `link`, replacing anything else there.
Status put_limit(NlRouteSocket& s, nl_cache* qdiscs, rtnl_link* link, const policy::TcLimit& lim,
                 const std::string& where) {
  int ifindex = rtnl_link_get_ifindex(link);
  if (lim.rate_bits < 8) return make_error("tc " + where, "rate must be at least 8 bit/s", EINVAL);
  if (lim.burst_bytes == 0) return make_error("tc " + where, "burst must be explicit", EINVAL);
  QdiscPtr root(rtnl_qdisc_get_by_parent(qdiscs, ifindex, TC_H_ROOT));
  bool ours = false;
  if (root) {
    const char* kind = rtnl_tc_get_kind(TC_CAST(root.get()));
    uint32_t handle = rtnl_tc_get_handle(TC_CAST(root.get()));
    ours = kind && std::strcmp(kind, "htb") == 0 && handle == kRootHandle;
    if (!ours && handle != 0) {
      // Someone else's root qdisc (a handle of 0 is the kernel's default, which goes by itself).
      if (int err = rtnl_qdisc_delete(s.get(), root.get()); err < 0) {
        return nl_error("tc qdisc del root " + where, err);
      }
    }
  }
  if (!ours) {
    QdiscPtr q(rtnl_qdisc_alloc());
    rtnl_tc_set_link(TC_CAST(q.get()), link);
    rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
    rtnl_tc_set_handle(TC_CAST(q.get()), kRootHandle);
    if (int err = rtnl_tc_set_kind(TC_CAST(q.get()), "htb"); err < 0)
      return nl_error("tc htb", err);
    rtnl_htb_set_defcls(q.get(), TC_H_MIN(kClassId));
    if (int err = rtnl_qdisc_add(s.get(), q.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
      return nl_error("tc qdisc add root htb " + where, err);
    }
  }
  ClassPtr cls(rtnl_class_alloc());
  rtnl_tc_set_link(TC_CAST(cls.get()), link);
  rtnl_tc_set_parent(TC_CAST(cls.get()), kRootHandle);
  rtnl_tc_set_handle(TC_CAST(cls.get()), kClassId);
  if (int err = rtnl_tc_set_kind(TC_CAST(cls.get()), "htb"); err < 0)
    return nl_error("tc htb", err);
  uint64_t rate = lim.rate_bits / 8;
  uint32_t burst = static_cast<uint32_t>(std::min<uint64_t>(lim.burst_bytes, UINT32_MAX));
  // 64-bit setters: the 32-bit ones stop at 4 Gbyte/s... and libnl fills both forms.
  rtnl_htb_set_rate64(cls.get(), rate);
  rtnl_htb_set_ceil64(cls.get(), rate);
  rtnl_htb_set_rbuffer(cls.get(), burst);
  rtnl_htb_set_cbuffer(cls.get(), burst);
  // One class shares with nobody; the quantum only has to stay in htb's sane range.
  rtnl_htb_set_quantum(cls.get(),
                       static_cast<uint32_t>(std::clamp<uint64_t>(rate / 10, 3000, 200000)));
  if (int err = rtnl_class_add(s.get(), cls.get(), NLM_F_CREATE); err < 0) {
    return nl_error("tc class add htb 1:1 " + where, err);
  }
  return {};
}

Status drop_limit(NlRouteSocket& s, nl_cache* qdiscs, int ifindex, const std::string& where) {
  QdiscPtr root(rtnl_qdisc_get_by_parent(qdiscs, ifindex, TC_H_ROOT));
  if (!root) return {};
  const char* kind = rtnl_tc_get_kind(TC_CAST(root.get()));
  if (!kind || std::strcmp(kind, "htb") != 0 ||
      rtnl_tc_get_handle(TC_CAST(root.get())) != kRootHandle) {
    return {};  // not ours
  }
  if (int err = rtnl_qdisc_delete(s.get(), root.get()); err < 0 && err != -NLE_OBJ_NOTFOUND) {
    return nl_error("tc qdisc del root htb " + where, err);
  }
  return {};
}

struct IngressState {
  int ifb_index = 0;
  bool ifb_up = false;
  bool ingress_qdisc = false;
  bool redirect = false;  // a u32 filter under ffff: redirecting to the ifb
};

Result<IngressState> read_ingress(NlRouteSocket& s, nl_cache* links, nl_cache* qdiscs,
                                  int ifindex) {
  IngressState st;
  LinkPtr ifb(rtnl_link_get_by_name(links, policy::kIfbName));
  if (ifb) {
    st.ifb_index = rtnl_link_get_ifindex(ifb.get());
    st.ifb_up = (rtnl_link_get_flags(ifb.get()) & IFF_UP) != 0;
  }
  QdiscPtr ing(rtnl_qdisc_get_by_parent(qdiscs, ifindex, TC_H_INGRESS));
  if (!ing) return st;
  const char* kind = rtnl_tc_get_kind(TC_CAST(ing.get()));
  st.ingress_qdisc = kind && std::strcmp(kind, "ingress") == 0;
  if (!st.ingress_qdisc || st.ifb_index == 0) return st;
  nl_cache* c = nullptr;
  if (int err = rtnl_cls_alloc_cache(s.get(), ifindex, kIngressHandle, &c); err < 0) {
    return nl_error("list filters", err);
  }
  CachePtr filters(c);
  for (nl_object* o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
    auto* cls = reinterpret_cast<rtnl_cls*>(o);
    const char* k = rtnl_tc_get_kind(TC_CAST(cls));
    if (!k || std::strcmp(k, "u32") != 0) continue;
    // We install exactly one action; the first is the one to check.
    rtnl_act* act = rtnl_u32_get_action(cls);
    const char* ak = act ? rtnl_tc_get_kind(TC_CAST(act)) : nullptr;
    if (ak && std::strcmp(ak, "mirred") == 0 &&
        static_cast<int>(rtnl_mirred_get_ifindex(act)) == st.ifb_index) {
      st.redirect = true;
    }
  }
  return st;
}

Status ensure_ifb(NlRouteSocket& s, const IngressState& st) {
  if (st.ifb_index != 0 && st.ifb_up) return {};
  LinkPtr l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), policy::kIfbName);
  if (st.ifb_index == 0) {
    if (int err = rtnl_link_set_type(l.get(), "ifb"); err < 0) return nl_error("ifb", err);
    rtnl_link_set_flags(l.get(), IFF_UP);
    if (int err = rtnl_link_add(s.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
      return nl_error(std::string("ip link add ") + policy::kIfbName + " type ifb", err);
    }
    return {};
  }
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  rtnl_link_set_ifindex(l.get(), st.ifb_index);
  if (int err = rtnl_link_change(s.get(), l.get(), change.get(), 0); err < 0) {
    return nl_error(std::string("ip link set ") + policy::kIfbName + " up", err);
  }
  return {};
}

Status add_redirect(NlRouteSocket& s, int ifindex, int ifb_index) {
  ClsPtr cls(rtnl_cls_alloc());
  rtnl_tc_set_ifindex(TC_CAST(cls.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(cls.get()), kIngressHandle);
  if (int err = rtnl_tc_set_kind(TC_CAST(cls.get()), "u32"); err < 0) return nl_error("u32", err);
  rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
  rtnl_cls_set_prio(cls.get(), kFilterPrio);
  rtnl_u32_set_cls_terminal(cls.get());
  rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0);  // match u32 0 0: every packet
  ActPtr act(rtnl_act_alloc());
  if (int err = rtnl_tc_set_kind(TC_CAST(act.get()), "mirred"); err < 0)
    return nl_error("mirred", err);
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(ifb_index));
  if (int err = rtnl_u32_add_action(cls.get(), act.get()); err < 0)
    return nl_error("u32 action", err);
  if (int err = rtnl_cls_add(s.get(), cls.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return nl_error(std::string("tc filter add ingress u32 mirred redirect to ") + policy::kIfbName,
                    err);
  }
  return {};
}

Status drop_ingress(NlRouteSocket& s, nl_cache* qdiscs, int ifindex, const IngressState& st) {
  if (st.ingress_qdisc && (st.redirect || st.ifb_index != 0)) {
    QdiscPtr ing(rtnl_qdisc_get_by_parent(qdiscs, ifindex, TC_H_INGRESS));
    if (ing) {
      if (int err = rtnl_qdisc_delete(s.get(), ing.get()); err < 0 && err != -NLE_OBJ_NOTFOUND) {
        return nl_error("tc qdisc del ingress", err);
      }
    }
  }
  if (st.ifb_index != 0) {
    LinkPtr l(rtnl_link_alloc());
    rtnl_link_set_ifindex(l.get(), st.ifb_index);
    if (int err = rtnl_link_delete(s.get(), l.get());
        err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) {
      return nl_error(std::string("ip link del ") + policy::kIfbName, err);
    }
  }
  return {};
}

bool limit_equivalent(const std::optional<policy::TcLimit>& a,
                      const std::optional<policy::TcLimit>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->rate_bits / 8 != b->rate_bits / 8) return false;
  uint64_t hi = std::max(a->burst_bytes, b->burst_bytes);
  uint64_t lo = std::min(a->burst_bytes, b->burst_bytes);
  return hi - lo <= std::max<uint64_t>(64, hi / 100);
}

}  // namespace

Result<EndpointInterface> find_endpoint_interface(NlRouteSocket& sock) {
  auto links = link_cache(sock);
  if (!links.ok()) return links.error();
  std::vector<EndpointInterface> up;
  for (nl_object* o = nl_cache_get_first(links->get()); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    unsigned flags = rtnl_link_get_flags(l);
    if ((flags & IFF_LOOPBACK) || !(flags & IFF_UP) || is_ifb(l)) continue;
    const char* name = rtnl_link_get_name(l);
    up.push_back({rtnl_link_get_ifindex(l), name ? name : ""});
  }
  if (up.empty()) {
    return make_error("find endpoint interface", "no interface is up besides lo", ENODEV);
  }
  if (up.size() > 1) {
    for (int family : {AF_INET, AF_INET6}) {
      int idx = default_route_ifindex(sock, family);
      for (const auto& i : up) {
        if (i.ifindex == idx) return i;
      }
    }
  }
  return *std::min_element(up.begin(), up.end(),
                           [](const auto& a, const auto& b) { return a.ifindex < b.ifindex; });
}

Result<policy::TcPlan> read_tc(NlRouteSocket& sock) {
  auto iface = find_endpoint_interface(sock);
  if (!iface.ok()) return iface.error();
  auto links = link_cache(sock);
  if (!links.ok()) return links.error();
  auto qdiscs = qdisc_cache(sock);
  if (!qdiscs.ok()) return qdiscs.error();
  policy::TcPlan plan;
  auto egress = read_limit(sock, qdiscs->get(), iface->ifindex);
  if (!egress.ok()) return egress.error();
  plan.egress = *egress;
  auto ing = read_ingress(sock, links->get(), qdiscs->get(), iface->ifindex);
  if (!ing.ok()) return ing.error();
  if (ing->ifb_index != 0 && ing->ifb_up && ing->redirect) {
    auto limit = read_limit(sock, qdiscs->get(), ing->ifb_index);
    if (!limit.ok()) return limit.error();
    plan.ingress = *limit;
  }
  return plan;
}

Status apply_tc(NlRouteSocket& sock, const policy::TcPlan& plan) {
  auto iface = find_endpoint_interface(sock);
  if (!iface.ok()) return iface.error();
  auto links = link_cache(sock);
  if (!links.ok()) return links.error();
  auto qdiscs = qdisc_cache(sock);
  if (!qdiscs.ok()) return qdiscs.error();
  const std::string where = "dev " + iface->name;

  auto egress = read_limit(sock, qdiscs->get(), iface->ifindex);
  if (!egress.ok()) return egress.error();
  if (!limit_equivalent(*egress, plan.egress)) {
    if (plan.egress) {
      LinkPtr link(rtnl_link_get(links->get(), iface->ifindex));
      if (!link) return make_error("tc " + where, "interface vanished", ENODEV);
      if (auto st = put_limit(sock, qdiscs->get(), link.get(), *plan.egress, where); !st.ok()) {
        return st;
      }
    } else if (auto st = drop_limit(sock, qdiscs->get(), iface->ifindex, where); !st.ok()) {
      return st;
    }
  }

  auto ing = read_ingress(sock, links->get(), qdiscs->get(), iface->ifindex);
  if (!ing.ok()) return ing.error();
  if (!plan.ingress) return drop_ingress(sock, qdiscs->get(), iface->ifindex, *ing);

  if (auto st = ensure_ifb(sock, *ing); !st.ok()) return st;
  // The ifb may be new: look everything up again.
  auto links2 = link_cache(sock);
  if (!links2.ok()) return links2.error();
  auto qdiscs2 = qdisc_cache(sock);
  if (!qdiscs2.ok()) return qdiscs2.error();
  auto ing2 = read_ingress(sock, links2->get(), qdiscs2->get(), iface->ifindex);
  if (!ing2.ok()) return ing2.error();
  if (ing2->ifb_index == 0) return make_error("tc ingress", "ifb did not appear", ENODEV);
  const std::string ifb_where = std::string("dev ") + policy::kIfbName;
  // Shape on the ifb before redirecting into it, so traffic is never redirected unshaped.
  auto current = read_limit(sock, qdiscs2->get(), ing2->ifb_index);
  if (!current.ok()) return current.error();
  if (!limit_equivalent(*current, plan.ingress)) {
    LinkPtr ifb(rtnl_link_get(links2->get(), ing2->ifb_index));
    if (!ifb) return make_error("tc " + ifb_where, "ifb vanished", ENODEV);
    if (auto st = put_limit(sock, qdiscs2->get(), ifb.get(), *plan.ingress, ifb_where); !st.ok()) {
      return st;
    }
  }
  if (!ing2->ingress_qdisc) {
    QdiscPtr q(rtnl_qdisc_alloc());
    rtnl_tc_set_ifindex(TC_CAST(q.get()), iface->ifindex);
    rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_INGRESS);
    rtnl_tc_set_handle(TC_CAST(q.get()), kIngressHandle);
    if (int err = rtnl_tc_set_kind(TC_CAST(q.get()), "ingress"); err < 0) {
      return nl_error("tc ingress", err);
    }
    if (int err = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE); err < 0) {
      return nl_error("tc qdisc add ingress " + where, err);
    }
  }
  if (!ing2->redirect) return add_redirect(sock, iface->ifindex, ing2->ifb_index);
  return {};
}

Status remove_tc(NlRouteSocket& sock) {
  auto iface = find_endpoint_interface(sock);
  auto links = link_cache(sock);
  if (!links.ok()) return links.error();
  auto qdiscs = qdisc_cache(sock);
  if (!qdiscs.ok()) return qdiscs.error();
  int ifindex = iface.ok() ? iface->ifindex : 0;
  if (ifindex != 0) {
    if (auto st = drop_limit(sock, qdiscs->get(), ifindex, "dev " + iface->name); !st.ok()) {
      return st;
    }
  }
  IngressState ing;
  if (ifindex != 0) {
    auto r = read_ingress(sock, links->get(), qdiscs->get(), ifindex);
    if (!r.ok()) return r.error();
    ing = *r;
  } else {
    LinkPtr ifb(rtnl_link_get_by_name(links->get(), policy::kIfbName));
    if (ifb) ing.ifb_index = rtnl_link_get_ifindex(ifb.get());
  }
  return drop_ingress(sock, qdiscs->get(), ifindex, ing);
}

bool tc_equivalent(const policy::TcPlan& observed, const policy::TcPlan& desired) {
  return limit_equivalent(observed.egress, desired.egress) &&
         limit_equivalent(observed.ingress, desired.ingress);
}

}  // namespace bulkhead::netlink
