/* SPDX-License-Identifier: MIT */
#include "pdconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrplan.h"
#include "ipaddr.h"
#include "net.h"
#include "text.h"

/* Parse context: the reader position (for line numbers and quoting) and the first error. */
struct ctx {
	struct pdconf *c;
	const char *text;
	size_t len, off;
	unsigned lineno;
	const char *line; /* current line, as read */
	size_t line_len;
	char raw_section[PDCONF_LINE_MAX + 1]; /* the last [section] exactly as written */
	uint32_t seen; /* fixed-section keys already set (bit per table row) */
	bool allow_seen[PDCONF_MAX_ALLOW];
	unsigned err_line;
	char msg[PDCONF_ERR_BUF];
	char quoted[PDCONF_LINE_MAX + 1];
};

/* Record the first error (with the current line) and return false. */
__attribute__((format(printf, 2, 3))) static bool fail(struct ctx *x, const char *fmt, ...)
{
	va_list ap;
	size_t n = x->line_len, j = 0;

	if (x->err_line)
		return false; /* keep the first error only */
	x->err_line = x->lineno;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	while (n > 0 && (x->line[n - 1] == '\n' || x->line[n - 1] == '\r'))
		n--;
	for (size_t i = 0; i < n && j < sizeof(x->quoted) - 1; i++)
		x->quoted[j++] = (x->line[i] >= 0x20 && x->line[i] < 0x7f) ? x->line[i] : '?';
	x->quoted[j] = '\0';
	return false;
}

/* fgets-style reader over the buffer; counts lines and remembers [section] headers verbatim. */
static char *reader(char *str, int num, void *stream)
{
	struct ctx *x = stream;
	const char *p = x->text + x->off, *nl, *s, *e;
	size_t n;

	if (x->off >= x->len || num < 2)
		return NULL;
	nl = memchr(p, '\n', x->len - x->off);
	n = nl ? (size_t)(nl - p) + 1 : x->len - x->off;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1; /* cannot happen: lines were length-checked */
	memcpy(str, p, n);
	str[n] = '\0';
	x->off += n;
	x->lineno++;
	x->line = p;
	x->line_len = n;
	for (s = p; s < p + n && (*s == ' ' || *s == '\t'); s++)
		; /* bounded: the text need not end in a NUL */
	if (s < p + n && *s == '[' && (e = memchr(s, ']', n - (size_t)(s - p))) != NULL) {
		memcpy(x->raw_section, s + 1, (size_t)(e - s - 1));
		x->raw_section[e - s - 1] = '\0';
	}
	return str;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
			*out = !strcmp(v, yes[i]);
			return true;
		}
	}
	return false;
}

static bool parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	if (v[0] < '0' || v[0] > '9' || strlen(v) > 10)
		return false;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return !errno && *end == '\0' && *out <= max;
}

bool pdconf_parse_duration(const char *s, unsigned *out)
{
	char num[16];
	size_t n = strlen(s);
	unsigned long mul = 1, v;

	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		mul = 0;
		break;
	}
	if (mul)
		num[n - 1] = '\0';
	else
		mul = 1;
	if (!parse_uint(num, PDCONF_MAX_DURATION, &v) || v == 0 || v * mul > PDCONF_MAX_DURATION)
		return false;
	*out = (unsigned)(v * mul);
	return true;
}

static bool path_ok(const char *v)
{
	if (v[0] != '/' || strlen(v) >= PDCONF_PATH_MAX)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ',')
			return false;
	return true;
}

static bool name_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= PDCONF_USER_BUF || v[0] == '-' || v[0] == '.')
		return false;
	return strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

typedef bool (*item_fn)(struct ctx *x, const char *item, void *arg);

/* Split a comma list; each item trimmed and non-empty, handed to @p fn. */
static bool each_item(struct ctx *x, const char *key, const char *v, item_fn fn, void *arg)
{
	char buf[PDCONF_LINE_MAX + 1], *save = NULL, *tok, *e;
	size_t n = strlen(v);

	if (n == 0 || n >= sizeof(buf) || v[n - 1] == ',' || v[0] == ',')
		return fail(x, "'%s' needs a comma-separated list", key);
	memcpy(buf, v, n + 1);
	if (strstr(buf, ",,"))
		return fail(x, "empty item in '%s'", key);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t");
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok)
			return fail(x, "empty item in '%s'", key);
		if (!fn(x, tok, arg))
			return false;
	}
	return true;
}

struct names {
	char (*v)[PDCONF_USER_BUF];
	size_t *n;
	const char *key;
};

static bool add_user(struct ctx *x, const char *item, void *arg)
{
	struct names *u = arg;

	if (!name_ok(item))
		return fail(x, "invalid user name '%s' in '%s'", item, u->key);
	for (size_t i = 0; i < *u->n; i++)
		if (!strcmp(u->v[i], item))
			return fail(x, "user '%s' listed twice", item);
	if (*u->n == PDCONF_MAX_USERS)
		return fail(x, "more than %d users in '%s'", PDCONF_MAX_USERS, u->key);
	strcpy(u->v[(*u->n)++], item);
	return true;
}

static bool add_port(struct ctx *x, const char *item, void *arg)
{
	struct pdconf *c = arg;
	unsigned long p;

	if (!parse_uint(item, 65535, &p) || p == 0)
		return fail(x, "invalid port '%s' (1..65535)", item);
	for (size_t i = 0; i < c->n_ports; i++)
		if (c->ports[i] == p)
			return fail(x, "port %lu listed twice", p);
	if (c->n_ports == PDCONF_MAX_PORTS)
		return fail(x, "more than %d allowed ports", PDCONF_MAX_PORTS);
	c->ports[c->n_ports++] = (uint16_t)p;
	return true;
}

static bool add_hostkey(struct ctx *x, const char *item, void *arg)
{
	struct pdconf *c = arg;

	if (!path_ok(item))
		return fail(x, "sshd-host-keys: '%s' is not an absolute path", item);
	if (c->n_host_keys == PDCONF_MAX_HOSTKEYS)
		return fail(x, "more than %d host keys", PDCONF_MAX_HOSTKEYS);
	strcpy(c->host_keys[c->n_host_keys++], item);
	return true;
}

static bool add_sr(struct ctx *x, const char *item, void *arg)
{
	struct pdconf *c = arg;

	if (!handle_valid(item))
		return fail(x, "invalid SR handle '%s'", item);
	for (size_t i = 0; i < c->n_sr; i++)
		if (!strcmp(c->sr[i], item))
			return fail(x, "SR '%s' listed twice", item);
	if (c->n_sr == PDCONF_MAX_SR)
		return fail(x, "more than %d SRs", PDCONF_MAX_SR);
	strcpy(c->sr[c->n_sr++], item);
	return true;
}

static bool set_path(struct ctx *x, const char *v, char *out)
{
	if (!path_ok(v))
		return fail(x, "'%s' is not an absolute path", v);
	strcpy(out, v);
	return true;
}

static bool set_prefix(struct ctx *x, const char *v, struct pdconf *c)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(v, '/');
	struct in_addr a;
	unsigned long len;
	uint32_t host, mask;

	if (!slash || (size_t)(slash - v) >= sizeof(ip))
		return fail(x, "virtual-prefix must be an IPv4 network a.b.c.d/len");
	memcpy(ip, v, (size_t)(slash - v));
	ip[slash - v] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1 || !parse_uint(slash + 1, 24, &len) || len < 8)
		return fail(x, "virtual-prefix '%s' is not an IPv4 network with length 8..24", v);
	host = ntohl(a.s_addr);
	mask = 0xffffffffu << (32 - len);
	if (host & ~mask)
		return fail(x, "virtual-prefix '%s' has host bits set", v);
	c->prefix_addr = host;
	c->prefix_len = (uint8_t)len;
	return true;
}

static bool set_bool(struct ctx *x, const char *key, const char *v, bool *out)
{
	if (!parse_bool(v, out))
		return fail(x, "'%s' must be yes or no, not '%s'", key, v);
	return true;
}

static bool set_duration(struct ctx *x, const char *key, const char *v, unsigned *out)
{
	if (!pdconf_parse_duration(v, out))
		return fail(x,
			    "invalid duration '%s' for '%s' (e.g. 30s, 5m, 12h, 1d; at most 30d)",
			    v, key);
	return true;
}

/* One setter per known key of the fixed sections. */
static bool k_keys(struct ctx *x, const char *v)
{
	return set_path(x, v, x->c->keys_dir);
}

static bool k_address(struct ctx *x, const char *v)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (strlen(v) >= PDCONF_ADDR_BUF || net_parse_hostport(v, &ss, &sl) < 0)
		return fail(x, "address '%s' is not host:port (numeric host)", v);
	strcpy(x->c->cp_address, v);
	x->c->have_cp_address = true;
	return true;
}

static bool k_server_key(struct ctx *x, const char *v)
{
	if (text_from_b64_exact(x->c->cp_server_key, 32, v) < 0)
		return fail(x, "server-key must be 32 bytes in base64");
	x->c->have_cp_key = true;
	return true;
}

static bool k_dev_enabled(struct ctx *x, const char *v)
{
	return set_bool(x, "enabled", v, &x->c->device_enabled);
}

static bool k_prefix(struct ctx *x, const char *v)
{
	return set_prefix(x, v, x->c);
}

/* An IPv6 ULA network (fc00::/7), length 8..96, no host bits. */
static bool k_prefix6(struct ctx *x, const char *v)
{
	struct ipaddr p, m;

	if (!strchr(v, '/') || !ipaddr_parse(v, &p) || p.family != AF_INET6 || p.plen < 8 ||
	    p.plen > 96)
		return fail(x, "virtual-prefix6 '%s' is not an IPv6 network with length 8..96", v);
	if ((p.a[0] & 0xfe) != 0xfc)
		return fail(x, "virtual-prefix6 '%s' is not a unique local (fc00::/7) prefix", v);
	m = p;
	ipaddr_mask(&m);
	if (memcmp(m.a, p.a, 16) != 0)
		return fail(x, "virtual-prefix6 '%s' has host bits set", v);
	memcpy(x->c->prefix6, p.a, 16);
	x->c->prefix6_len = p.plen;
	return true;
}

static bool k_alt(struct ctx *x, const char *v)
{
	unsigned long n;

	if (!parse_uint(v, 15, &n))
		return fail(x, "address-alternative must be 0..15");
	x->c->addr_alt = (unsigned)n;
	return true;
}

static bool k_ports(struct ctx *x, const char *v)
{
	x->c->n_ports = 0; /* replaces the default */
	return each_item(x, "allowed-ports", v, add_port, x->c);
}

static bool k_max_sessions(struct ctx *x, const char *v)
{
	unsigned long n;

	if (!parse_uint(v, PDCONF_MAX_SESSIONS, &n) || n == 0)
		return fail(x, "max-sessions must be 1..%d", PDCONF_MAX_SESSIONS);
	x->c->max_sessions = (unsigned)n;
	return true;
}

static bool k_idle(struct ctx *x, const char *v)
{
	return set_duration(x, "idle-timeout", v, &x->c->idle_timeout);
}

static bool k_maxdur(struct ctx *x, const char *v)
{
	return set_duration(x, "max-duration", v, &x->c->max_duration);
}

static bool k_hostkeys(struct ctx *x, const char *v)
{
	x->c->n_host_keys = 0; /* replaces the default */
	return each_item(x, "sshd-host-keys", v, add_hostkey, x->c);
}

static bool k_ak_users(struct ctx *x, const char *v)
{
	struct names u = {x->c->ak_users, &x->c->n_ak_users, "authorized-keys-users"};

	x->c->ak_users_given = true;
	return each_item(x, u.key, v, add_user, &u);
}

static bool k_ak_mode(struct ctx *x, const char *v)
{
	if (strcmp(v, "file") && strcmp(v, "command"))
		return fail(x, "authorized-keys must be 'file' or 'command', not '%s'", v);
	x->c->ak_command = !strcmp(v, "command");
	return true;
}

static bool k_keys_socket(struct ctx *x, const char *v)
{
	return set_path(x, v, x->c->keys_socket);
}

static bool k_keys_user(struct ctx *x, const char *v)
{
	if (!name_ok(v))
		return fail(x, "invalid user name '%s'", v);
	strcpy(x->c->keys_user, v);
	return true;
}

static bool k_run_as(struct ctx *x, const char *v)
{
	if (!name_ok(v) || !strcmp(v, "root"))
		return fail(x, "invalid user name '%s' for run-as", v);
	strcpy(x->c->run_as, v);
	return true;
}

static bool k_cl_enabled(struct ctx *x, const char *v)
{
	return set_bool(x, "enabled", v, &x->c->client_enabled);
}

static bool k_socket(struct ctx *x, const char *v)
{
	return set_path(x, v, x->c->socket_path);
}

static bool k_group(struct ctx *x, const char *v)
{
	if (!name_ok(v))
		return fail(x, "invalid group name '%s'", v);
	strcpy(x->c->socket_group, v);
	return true;
}

static bool add_overlay(struct ctx *x, const char *item, void *arg)
{
	struct pdconf *c = arg;
	struct ipaddr p, m;

	if (!ipaddr_parse(item, &p) || p.plen < 8)
		return fail(x, "overlay '%s' is not a network of length 8 or more", item);
	m = p;
	ipaddr_mask(&m);
	if (!ipaddr_equal(&m, &p))
		return fail(x, "overlay '%s' has host bits set", item);
	if (c->n_overlay == PDCONF_MAX_OVERLAY)
		return fail(x, "more than %d overlay networks", PDCONF_MAX_OVERLAY);
	c->overlay[c->n_overlay++] = p;
	return true;
}

static bool k_overlay(struct ctx *x, const char *v)
{
	x->c->n_overlay = 0; /* replaces the defaults */
	return each_item(x, "overlay", v, add_overlay, x->c);
}

static bool k_sr(struct ctx *x, const char *v)
{
	return each_item(x, "sr", v, add_sr, x->c);
}

static bool k_ifup(struct ctx *x, const char *v)
{
	return set_path(x, v, x->c->ifup);
}

static bool k_ifdown(struct ctx *x, const char *v)
{
	return set_path(x, v, x->c->ifdown);
}

static bool k_script_timeout(struct ctx *x, const char *v)
{
	if (!set_duration(x, "script-timeout", v, &x->c->script_timeout))
		return false;
	if (x->c->script_timeout > 60)
		return fail(x, "script-timeout %us is above 60s (the daemon waits for it)",
			    x->c->script_timeout);
	return true;
}

static bool k_rekey_after(struct ctx *x, const char *v)
{
	if (!set_duration(x, "rekey-after", v, &x->c->rekey_after))
		return false;
	if (x->c->rekey_after < 5 || x->c->rekey_after > 86400)
		return fail(x, "rekey-after must be 5s..1d");
	return true;
}

static bool k_rekey_packets(struct ctx *x, const char *v)
{
	unsigned long n;

	if (!parse_uint(v, 1ul << 32, &n) || n < 1000)
		return fail(x, "rekey-packets must be 1000..4294967296");
	x->c->rekey_packets = n;
	return true;
}

static const struct key {
	const char *section, *name;
	bool (*set)(struct ctx *x, const char *v);
} KEYS[] = {
    {"identity", "keys", k_keys},
    {"controlplane", "address", k_address},
    {"controlplane", "server-key", k_server_key},
    {"device", "enabled", k_dev_enabled},
    {"device", "virtual-prefix", k_prefix},
    {"device", "virtual-prefix6", k_prefix6},
    {"device", "address-alternative", k_alt},
    {"device", "allowed-ports", k_ports},
    {"device", "max-sessions", k_max_sessions},
    {"device", "idle-timeout", k_idle},
    {"device", "max-duration", k_maxdur},
    {"device", "sshd-host-keys", k_hostkeys},
    {"device", "authorized-keys-users", k_ak_users},
    {"device", "authorized-keys", k_ak_mode},
    {"device", "keys-socket", k_keys_socket},
    {"device", "keys-user", k_keys_user},
    {"device", "run-as", k_run_as},
    {"client", "enabled", k_cl_enabled},
    {"client", "socket", k_socket},
    {"client", "group", k_group},
    {"client", "sr", k_sr},
    {"client", "overlay", k_overlay},
    {"interface", "ifup", k_ifup},
    {"interface", "ifdown", k_ifdown},
    {"interface", "script-timeout", k_script_timeout},
    {"session", "rekey-after", k_rekey_after},
    {"session", "rekey-packets", k_rekey_packets},
};
_Static_assert(sizeof(KEYS) / sizeof(KEYS[0]) <= 32, "seen is a 32-bit mask");

static bool known_section(const char *s)
{
	for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++)
		if (!strcmp(KEYS[i].section, s))
			return true;
	return false;
}

/* "pl:" and 8 groups of 4 hex digits joined by '-' (identity_fingerprint()); lowercased. */
static bool fingerprint_ok(const char *v, char out[ID_FPR_BUF])
{
	size_t n = strlen(v);

	if (n != 42 || strncasecmp(v, "pl:", 3) != 0)
		return false;
	for (size_t i = 3; i < n; i++) {
		bool dash = (i - 3) % 5 == 4;
		char ch = (char)tolower((unsigned char)v[i]);

		if (dash ? ch != '-' : !isxdigit((unsigned char)ch))
			return false;
		out[i] = ch;
	}
	memcpy(out, "pl:", 3);
	out[n] = '\0';
	return true;
}

/* The [allow @handle] entry, made on its section's first key. */
static struct pdconf_allow *allow_entry(struct ctx *x, const char *handle)
{
	struct pdconf *c = x->c;

	for (size_t i = 0; i < c->n_allow; i++)
		if (!strcmp(c->allow[i].handle, handle))
			return &c->allow[i];
	if (c->n_allow == PDCONF_MAX_ALLOW) {
		fail(x, "more than %d [allow] sections", PDCONF_MAX_ALLOW);
		return NULL;
	}
	strcpy(c->allow[c->n_allow].handle, handle);
	return &c->allow[c->n_allow++];
}

static bool allow_max(struct ctx *x, struct pdconf_allow *a, const char *v)
{
	unsigned long n;

	if (a->max_sessions)
		return fail(x, "duplicate key 'max-sessions' for [allow %s]", a->handle);
	if (!parse_uint(v, PDCONF_MAX_SESSIONS, &n) || n == 0)
		return fail(x, "max-sessions must be 1..%d", PDCONF_MAX_SESSIONS);
	a->max_sessions = (unsigned)n;
	return true;
}

/* A key of [allow @handle]: "users", "key" and "max-sessions", each once. */
static bool allow_key(struct ctx *x, const char *handle, const char *name, const char *v)
{
	struct pdconf_allow *a;
	struct names u;

	if (!handle_valid(handle))
		return fail(x, "invalid client handle '%s' in [allow %s]", handle, handle);
	if (strcmp(name, "users") != 0 && strcmp(name, "key") != 0 &&
	    strcmp(name, "max-sessions") != 0)
		return fail(x, "unknown key '%s' in [allow %s]", name, handle);
	if (!(a = allow_entry(x, handle)))
		return false;
	if (!strcmp(name, "max-sessions"))
		return allow_max(x, a, v);
	if (!strcmp(name, "key")) {
		if (a->key[0])
			return fail(x, "duplicate key 'key' for [allow %s]", handle);
		if (!fingerprint_ok(v, a->key))
			return fail(x,
				    "invalid key fingerprint '%s' in [allow %s] (want the "
				    "pl:xxxx-...-xxxx that 'portless whoami' prints)",
				    v, handle);
		return true;
	}
	if (a->n_users)
		return fail(x, "duplicate key 'users' for [allow %s]", handle);
	u = (struct names){a->users, &a->n_users, "users"};
	return each_item(x, "users", v, add_user, &u);
}

static bool add_device(struct ctx *x, const char *item, void *arg)
{
	struct pdconf_local *l = arg;

	if (strcmp(item, "*") != 0 && !handle_valid(item))
		return fail(x, "invalid device handle '%s' in 'devices'", item);
	if (l->n_devices == PDCONF_MAX_USERS)
		return fail(x, "more than %d devices in 'devices'", PDCONF_MAX_USERS);
	snprintf(l->devices[l->n_devices++], HANDLE_BUF, "%s", item);
	return true;
}

static bool add_as(struct ctx *x, const char *item, void *arg)
{
	struct pdconf_local *l = arg;
	struct names u = {l->as, &l->n_as, "as"};

	if (!strcmp(item, "%self") || !strcmp(item, "*")) {
		if (l->n_as == PDCONF_MAX_USERS)
			return fail(x, "more than %d users in 'as'", PDCONF_MAX_USERS);
		strcpy(l->as[l->n_as++], item);
		return true;
	}
	return add_user(x, item, &u);
}

/* The [local NAME] or [local %GROUP] entry, made on its section's first key. */
static struct pdconf_local *local_entry(struct ctx *x, const char *who)
{
	struct pdconf *c = x->c;
	bool group = who[0] == '%';
	struct pdconf_local *l;

	if (!name_ok(who + group)) {
		fail(x, "invalid %s name '%s' in [local %s]", group ? "group" : "user", who + group,
		     who);
		return NULL;
	}
	for (size_t i = 0; i < c->n_local; i++)
		if (c->local[i].group == group && !strcmp(c->local[i].name, who + group))
			return &c->local[i];
	if (c->n_local == PDCONF_MAX_LOCAL) {
		fail(x, "more than %d [local] sections", PDCONF_MAX_LOCAL);
		return NULL;
	}
	l = &c->local[c->n_local++];
	l->group = group;
	strcpy(l->name, who + group);
	return l;
}

/* A key of [local user] / [local %group]: "devices" and "as", each once. */
static bool local_key(struct ctx *x, const char *who, const char *name, const char *v)
{
	struct pdconf_local *l = local_entry(x, who);

	if (!l)
		return false;
	if (!strcmp(name, "devices")) {
		if (l->n_devices)
			return fail(x, "duplicate key 'devices' for [local %s]", who);
		return each_item(x, "devices", v, add_device, l);
	}
	if (!strcmp(name, "as")) {
		if (l->n_as)
			return fail(x, "duplicate key 'as' for [local %s]", who);
		return each_item(x, "as", v, add_as, l);
	}
	return fail(x, "unknown key '%s' in [local %s]", name, who);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *x = user;

	if (x->err_line)
		return 1; /* only the first error is reported; let inih finish */
	if (strcmp(section, x->raw_section) != 0)
		return fail(x, "section name too long or malformed");
	if (!section[0])
		return fail(x, "key '%s' outside any section", name);
	if (!strncmp(section, "allow ", 6))
		return allow_key(x, section + 6, name, value);
	if (!strncmp(section, "local ", 6))
		return local_key(x, section + 6, name, value);
	if (!known_section(section))
		return fail(x, "unknown section [%s]", section);
	for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
		if (strcmp(KEYS[i].section, section) || strcmp(KEYS[i].name, name))
			continue;
		if (x->seen & (1u << i))
			return fail(x, "duplicate key '%s' in [%s]", name, section);
		x->seen |= 1u << i;
		return KEYS[i].set(x, value);
	}
	return fail(x, "unknown key '%s' in [%s]", name, section);
}

void pdconf_defaults(struct pdconf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->keys_dir, "/var/lib/portless");
	c->prefix_addr = 0x64400000u; /* 100.64.0.0/10 */
	c->prefix_len = 10;
	c->ports[0] = 22;
	c->n_ports = 1;
	strcpy(c->keys_socket, "/run/portless/keys.sock");
	strcpy(c->keys_user, "nobody");
	c->n_overlay = ipaddr_parse(ADDRPLAN_DEV4_DEFAULT, &c->overlay[0]) &&
			       ipaddr_parse(ADDRPLAN_DEV6_DEFAULT, &c->overlay[1])
			   ? 2
			   : 0;
	c->max_sessions = 16;
	c->idle_timeout = 30 * 60;
	c->max_duration = 12 * 3600;
	strcpy(c->host_keys[0], "/etc/ssh/ssh_host_ed25519_key.pub");
	c->n_host_keys = 1;
	strcpy(c->socket_path, "/run/portless/portlessd.sock");
	c->script_timeout = 5;
	c->rekey_after = 120;
	c->rekey_packets = 1ull << 32;
}

/* Before inih sees the text: no NUL bytes, no line longer than its buffer. */
static bool prescan(struct ctx *x)
{
	size_t start = 0;

	for (size_t i = 0; i <= x->len; i++) {
		if (i < x->len && x->text[i] == '\0') {
			x->lineno++;
			x->line = x->text + start;
			x->line_len = i - start;
			return fail(x, "NUL byte in the file");
		}
		if (i == x->len || x->text[i] == '\n') {
			x->lineno++;
			x->line = x->text + start;
			x->line_len = i - start;
			if (i - start > PDCONF_LINE_MAX)
				return fail(x, "line longer than %d characters", PDCONF_LINE_MAX);
			start = i + 1;
		}
	}
	x->lineno = 0;
	return true;
}

static bool listed(char (*v)[PDCONF_USER_BUF], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* authorized-keys-users: checked against the [allow]s, or made from them. */
static int finish_ak_users(struct pdconf *c, const char *name, char *err, size_t cap)
{
	for (size_t i = 0; i < c->n_allow; i++) {
		for (size_t j = 0; j < c->allow[i].n_users; j++) {
			const char *u = c->allow[i].users[j];

			if (listed(c->ak_users, c->n_ak_users, u))
				continue;
			if (c->ak_users_given) {
				snprintf(err, cap,
					 "%s: user '%s' of [allow %s] is missing from "
					 "authorized-keys-users in [device]",
					 name, u, c->allow[i].handle);
				return -EINVAL;
			}
			if (c->n_ak_users == PDCONF_MAX_USERS) {
				snprintf(err, cap,
					 "%s: more than %d distinct users in the [allow] sections",
					 name, PDCONF_MAX_USERS);
				return -EINVAL;
			}
			strcpy(c->ak_users[c->n_ak_users++], u);
		}
	}
	return 0;
}

/* Every [allow] names its users, every [local] what it may ask as. */
static int finish_sections(struct pdconf *c, const char *name, char *err, size_t cap)
{
	for (size_t i = 0; i < c->n_allow; i++)
		if (!c->allow[i].n_users) {
			snprintf(err, cap, "%s: [allow %s] has no 'users'", name,
				 c->allow[i].handle);
			return -EINVAL;
		}
	for (size_t i = 0; i < c->n_local; i++)
		if (!c->local[i].n_as) {
			snprintf(err, cap, "%s: [local %s%s] has no 'as'", name,
				 c->local[i].group ? "%" : "", c->local[i].name);
			return -EINVAL;
		}
	return finish_ak_users(c, name, err, cap);
}

/* Cross-field checks once every line is in. */
static int finish(struct pdconf *c, const char *name, char *err, size_t cap)
{
	const char *why = NULL;

	/* [controlplane] is optional (cp.conf in the key directory, written by
	 * `portless enroll`, is the default), but it is all or nothing. */
	if (c->have_cp_address != c->have_cp_key)
		why = "[controlplane] needs both 'address' and 'server-key'";
	else if (!c->device_enabled && !c->client_enabled)
		why = "neither [device] nor [client] is enabled";
	else if (c->device_enabled && c->n_allow == 0)
		why = "[device] is enabled but no [allow @handle] section names a client";
	else if (c->client_enabled && c->n_sr == 0)
		why = "[client] is enabled but 'sr' names no socket rendezvous";
	else if (c->idle_timeout > c->max_duration)
		why = "idle-timeout is longer than max-duration";
	if (why) {
		snprintf(err, cap, "%s: %s", name, why);
		return -EINVAL;
	}
	return finish_sections(c, name, err, cap);
}

/* Point x->line at line @p n (1-based) of the text, bounded by its length. */
static void locate_line(struct ctx *x, unsigned n)
{
	size_t off = 0;
	const char *nl;

	for (unsigned i = 1; i < n && off < x->len; i++) {
		nl = memchr(x->text + off, '\n', x->len - off);
		off = nl ? (size_t)(nl - x->text) + 1 : x->len;
	}
	x->line = x->text + off;
	nl = memchr(x->line, '\n', x->len - off);
	x->line_len = nl ? (size_t)(nl - x->line) : x->len - off;
}

int pdconf_parse(struct pdconf *c, const char *name, const char *text, size_t len, char *err,
		 size_t errcap)
{
	struct ctx *x = calloc(1, sizeof(*x));
	int line, r = -EINVAL;

	if (errcap)
		err[0] = '\0';
	if (!x)
		return -ENOMEM;
	pdconf_defaults(c);
	*x = (struct ctx){.c = c, .text = text, .len = len};
	if (!prescan(x))
		goto report;
	line = ini_parse_stream(reader, x, handler, x);
	if (line == 0 && !x->err_line) {
		r = finish(c, name, err, errcap);
		goto out;
	}
	if (line > 0 && (!x->err_line || (unsigned)line < x->err_line)) {
		/* inih's own syntax error: no '=' or no ']' */
		x->err_line = 0;
		x->lineno = (unsigned)line;
		locate_line(x, (unsigned)line);
		fail(x, "expected 'key = value' or '[section]'");
	}
report:
	snprintf(err, errcap, "%s:%u: %s: \"%s\"", name, x->err_line, x->msg, x->quoted);
out:
	free(x);
	return r;
}

int pdconf_load(struct pdconf *c, const char *path, char *err, size_t errcap)
{
	char *buf = NULL;
	struct stat st;
	ssize_t n = 0;
	int fd, r;

	if (!path)
		path = PDCONF_DEFAULT_PATH;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = -EINVAL;
	errno = EINVAL;
	if (!S_ISREG(st.st_mode) || st.st_size > PDCONF_FILE_MAX)
		goto fail;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		goto fail;
	}
	close(fd);
	r = pdconf_parse(c, path, buf, (size_t)n, err, errcap);
	free(buf);
	return r;
fail:
	snprintf(err, errcap, "%s: cannot read: %s", path,
		 r == -EINVAL ? "not a regular file or larger than 64 KiB" : strerror(-r));
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

const struct pdconf_allow *pdconf_find_allow(const struct pdconf *c, const char *handle)
{
	for (size_t i = 0; i < c->n_allow; i++)
		if (!strcmp(c->allow[i].handle, handle))
			return &c->allow[i];
	return NULL;
}

unsigned pdconf_allow_max(const struct pdconf *c, const struct pdconf_allow *a)
{
	unsigned half = (c->max_sessions + 1) / 2;

	return a->max_sessions ? a->max_sessions : half ? half : 1;
}

bool pdconf_user_allowed(const struct pdconf *c, const char *handle, const char *user)
{
	const struct pdconf_allow *a = pdconf_find_allow(c, handle);

	if (!a)
		return false;
	for (size_t i = 0; i < a->n_users; i++)
		if (!strcmp(a->users[i], user))
			return true;
	return false;
}

static bool rule_names(const struct pdconf_local *l, const char *device, const char *user,
		       const char *login)
{
	bool dev = l->n_devices == 0, as = false;

	for (size_t i = 0; i < l->n_devices && !dev; i++)
		dev = !strcmp(l->devices[i], "*") || !strcmp(l->devices[i], device);
	for (size_t i = 0; i < l->n_as && !as; i++)
		as = !strcmp(l->as[i], user) ||
		     (!strcmp(l->as[i], "%self") && !strcmp(user, login)) ||
		     (!strcmp(l->as[i], "*") && strcmp(user, "root") != 0);
	return dev && as;
}

static bool rule_applies(const struct pdconf_local *l, const char *login, const char *const *groups,
			 size_t n_groups)
{
	if (!l->group)
		return !strcmp(l->name, login);
	for (size_t i = 0; i < n_groups; i++)
		if (!strcmp(l->name, groups[i]))
			return true;
	return false;
}

bool pdconf_local_allowed(const struct pdconf *c, const char *login, const char *const *groups,
			  size_t n_groups, const char *device, const char *user, char *why,
			  size_t cap)
{
	bool ruled = false;

	for (size_t i = 0; i < c->n_local; i++) {
		const struct pdconf_local *l = &c->local[i];

		if (!rule_applies(l, login, groups, n_groups))
			continue;
		ruled = true;
		if (rule_names(l, device, user, login))
			return true;
	}
	/*
	 * The default: your own login name; local root (who holds this host's
	 * identity key anyway) any name. Remote root always needs a rule.
	 */
	if (!ruled && strcmp(user, "root") != 0 && (!strcmp(user, login) || !strcmp(login, "root")))
		return true;
	snprintf(why, cap,
		 "local user %s may not ask for %s@%s: portlessd.conf needs [local %s] with "
		 "as = %s (and devices = %s)",
		 login, user, device, login, user, device);
	return false;
}

int pdconf_device_addrs(const struct pdconf *c, const char *handle, struct addrplan_cfg *pc,
			struct ipaddr *v4, struct ipaddr *v6)
{
	uint32_t net = htonl(c->prefix_addr);
	int r;

	addrplan_defaults(pc);
	ipaddr_from_bytes(&pc->dev4, AF_INET, &net, c->prefix_len);
	if (c->prefix6_len)
		ipaddr_from_bytes(&pc->dev6, AF_INET6, c->prefix6, c->prefix6_len);
	r = addrplan_device_ex(handle, &pc->dev4, &pc->pool4, c->addr_alt, v4);
	if (r == 0)
		r = addrplan_device_ex(handle, &pc->dev6, &pc->pool6, c->addr_alt, v6);
	return r;
}

bool pdconf_in_overlay(const struct pdconf *c, const struct ipaddr *a)
{
	for (size_t i = 0; i < c->n_overlay; i++)
		if (ipaddr_contains(&c->overlay[i], a))
			return true;
	return false;
}

bool pdconf_port_allowed(const struct pdconf *c, uint16_t port)
{
	for (size_t i = 0; i < c->n_ports; i++)
		if (c->ports[i] == port)
			return true;
	return false;
}
