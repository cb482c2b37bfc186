/* SPDX-License-Identifier: MIT */
/* Packet buffer, big-endian codec and base64/hex helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "pkt.h"
#include "text.h"
#include "wire.h"

static void test_pkt_bounds(void **state)
{
	uint8_t store[64];
	struct pkt p;
	uint8_t *d;

	pkt_init(&p, store, sizeof(store), 16);
	assert_int_equal(pkt_headroom(&p), 16);
	assert_int_equal(pkt_tailroom(&p), 48);
	d = pkt_put(&p, 48);
	assert_non_null(d);
	assert_null(pkt_put(&p, 1)); /* tail full */
	assert_int_equal(p.len, 48);
	d = pkt_push(&p, 16);
	assert_ptr_equal(d, store);
	assert_null(pkt_push(&p, 1)); /* headroom exhausted */
	assert_int_equal(p.len, 64);
	assert_non_null(pkt_pull(&p, 10));
	assert_int_equal(p.len, 54);
	assert_null(pkt_pull(&p, 55)); /* more than there is */
	assert_int_equal(p.len, 54);
	assert_int_equal(pkt_trim(&p, 55), -EINVAL);
	assert_int_equal(pkt_trim(&p, 4), 0);
	assert_int_equal(p.len, 4);
	assert_int_equal(pkt_reset(&p, 65), -EINVAL);
	assert_int_equal(pkt_reset(&p, 8), 0);
	assert_int_equal(pkt_headroom(&p), 8);
	assert_int_equal(p.len, 0);
}

static void test_pkt_new(void **state)
{
	struct pkt *p = pkt_new(100, 40);

	assert_non_null(p);
	assert_int_equal(pkt_headroom(p), 40);
	assert_non_null(pkt_put(p, 60));
	assert_null(pkt_put(p, 1));
	pkt_free(p);
	pkt_free(NULL);
}

static void test_be(void **state)
{
	uint8_t b[8];

	put_be16(b, 0x1234);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(get_be16(b), 0x1234);
	put_be32(b, 0xdeadbeef);
	assert_int_equal(b[0], 0xde);
	assert_int_equal(b[3], 0xef);
	assert_int_equal(get_be32(b), 0xdeadbeef);
	put_be64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[7], 8);
	assert_true(get_be64(b) == 0x0102030405060708ull);
}

static void test_wr_rd_roundtrip(void **state)
{
	uint8_t buf[64];
	char s[16];
	struct wr w;
	struct rd r;
	size_t n;
	const uint8_t *p;

	wr_init(&w, buf, sizeof(buf));
	wr_u8(&w, 7);
	wr_u16(&w, 0xbeef);
	wr_u32(&w, 42);
	wr_u64(&w, 1ull << 40);
	wr_str8(&w, "hello");
	wr_lv16(&w, "xy", 2);
	assert_true(wr_ok(&w));
	rd_init(&r, buf, w.len);
	assert_int_equal(rd_u8(&r), 7);
	assert_int_equal(rd_u16(&r), 0xbeef);
	assert_int_equal(rd_u32(&r), 42);
	assert_true(rd_u64(&r) == 1ull << 40);
	rd_str8(&r, s, sizeof(s));
	assert_string_equal(s, "hello");
	p = rd_lv16(&r, &n);
	assert_non_null(p);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "xy", 2);
	assert_true(rd_done(&r));
}

static void test_wr_overflow_sticky(void **state)
{
	uint8_t buf[5];
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	wr_u32(&w, 1);
	assert_true(wr_ok(&w));
	wr_u16(&w, 2); /* one byte short */
	assert_false(wr_ok(&w));
	wr_u8(&w, 3); /* would fit, but the error is sticky */
	assert_false(wr_ok(&w));
	assert_int_equal(w.len, 4);
}

static void test_rd_truncated(void **state)
{
	static const uint8_t in[] = {0x00, 0x05, 'a', 'b'}; /* lv16 claims 5, has 2 */
	static const uint8_t str[] = {3, 'a', 0, 'b'};      /* str8 with a NUL inside */
	char s[8];
	struct rd r;
	size_t n;

	rd_init(&r, in, sizeof(in));
	assert_null(rd_lv16(&r, &n));
	assert_int_equal(n, 0);
	assert_false(rd_done(&r));
	assert_int_equal(rd_u8(&r), 0); /* sticky */
	rd_init(&r, str, sizeof(str));
	rd_str8(&r, s, sizeof(s));
	assert_true(r.err);
	rd_init(&r, in, 3); /* not everything consumed */
	rd_u16(&r);
	assert_false(rd_done(&r));
	rd_init(&r, in, sizeof(in)); /* lv32 over max */
	assert_null(rd_lv32(&r, &n, 1));
}

static void test_text(void **state)
{
	static const uint8_t bin[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
	char b64[16], hex[16];
	uint8_t back[5];

	assert_int_equal(text_to_b64(b64, sizeof(b64), bin, sizeof(bin)), 0);
	assert_string_equal(b64, "3q2+7wE=");
	assert_int_equal(text_from_b64_exact(back, sizeof(back), b64), 0);
	assert_memory_equal(back, bin, sizeof(bin));
	assert_int_equal(text_from_b64_exact(back, 4, b64), -EINVAL);         /* wrong length */
	assert_int_equal(text_from_b64_exact(back, 5, "3q2+7wE=x"), -EINVAL); /* trailing */
	assert_int_equal(text_from_b64_exact(back, 5, "3q2*7wE="), -EINVAL);  /* bad char */
	assert_int_equal(text_to_b64(b64, 8, bin, sizeof(bin)), -ENOSPC);
	assert_int_equal(text_to_hex(hex, sizeof(hex), bin, sizeof(bin)), 0);
	assert_string_equal(hex, "deadbeef01");
	assert_int_equal(text_from_hex_exact(back, 5, "deadbeef01"), 0);
	assert_memory_equal(back, bin, sizeof(bin));
	assert_int_equal(text_from_hex_exact(back, 5, "deadbeef0g"), -EINVAL);
	assert_int_equal(text_to_hex(hex, 10, bin, sizeof(bin)), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkt_bounds),
	    cmocka_unit_test(test_pkt_new),
	    cmocka_unit_test(test_be),
	    cmocka_unit_test(test_wr_rd_roundtrip),
	    cmocka_unit_test(test_wr_overflow_sticky),
	    cmocka_unit_test(test_rd_truncated),
	    cmocka_unit_test(test_text),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
