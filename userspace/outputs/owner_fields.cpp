#include "outputs/owner_fields.h"

#include <string_view>

namespace synfin::outputs {

namespace {
void string_or_null(JsonWriter& out, std::string_view value) {
  if (value.empty())
    out.null();
  else
    out.string(value);
}
}  // namespace

void write_identity_members(JsonWriter& out, const model::ProcessInfo* owner, uint32_t netns,
                            uint32_t host_netns) {
  netns = row_netns(netns, owner);
  out.key("netns");
  if (netns)
    out.number(netns);
  else
    out.null();
  out.key("netns_is_host");
  if (!netns || !host_netns)
    out.null();
  else
    out.boolean(netns == host_netns);
  const model::CgroupIdentity none;
  const model::CgroupIdentity& id = owner ? owner->identity : none;
  out.key("cgroup_path");
  out.field_or_null(owner, &model::ProcessInfo::cgroup_path);
  out.key("unit");
  string_or_null(out, id.unit);
  out.key("container_id");
  string_or_null(out, id.container_id);
  out.key("container_runtime");
  string_or_null(out, model::runtime_name(id.runtime));
  out.key("pod_uid");
  string_or_null(out, id.pod_uid);
  out.key("pod_qos");
  string_or_null(out, model::qos_name(id.qos));
}

}  // namespace synfin::outputs
