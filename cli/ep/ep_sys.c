/* SPDX-License-Identifier: MIT */
#include "ep_sys.h"

#include <pwd.h>

#include "authkeys.h"
#include "netcfg.h"

static double real_now(struct ev_loop *loop)
{
	return ev_now(loop);
}

static bool real_user_exists(const char *user)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	return getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res;
}

static const struct ep_net_ops net_real = {
    .ifindex = netcfg_ifindex,
    .set_mtu = netcfg_link_set_mtu,
    .no_ipv6_ll = netcfg_link_no_ipv6_ll,
    .set_up = netcfg_link_set_up,
    .addr_add = netcfg_addr_add,
    .addr_del = netcfg_addr_del,
    .route_add = netcfg_route_add,
    .route_del = netcfg_route_del,
    .snapshot = netcfg_host_snapshot,
    .error = netcfg_error,
};

static const struct ep_path_ops path_real = {
    .open = sr_client_new,
    .send = sr_client_send,
    .send_train = sr_client_send_train,
    .mtu = sr_client_mtu,
    .transport = sr_client_transport,
    .rebind = sr_client_rebind,
    .close_reason = sr_client_close_reason,
    .peer_close_reason = sr_client_peer_close_reason,
    .stats = sr_client_get_stats,
    .free = sr_client_free,
};

const struct ep_sys ep_sys_default = {
    .now = real_now,
    .tun = &tun_ops_kernel,
    .net = &net_real,
    .path = &path_real,
    .notify = cp_client_notify,
    .key_install = authkeys_install,
    .key_remove = authkeys_remove,
    .key_remove_all = authkeys_remove_all,
    .put_record = cp_client_put_record,
    .get_keys = cp_client_get_keys,
    .user_exists = real_user_exists,
};
