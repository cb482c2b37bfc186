/* SPDX-License-Identifier: MIT */
#include "handle.h"

#include <stddef.h>

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool handle_valid(const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '@')
		return false;
	s++;
	/* First character: a letter or digit, never '_' or '-'. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (; s[n]; n++)
		if (n >= HANDLE_NAME_MAX || !name_char(s[n]))
			return false;
	return n >= 1;
}
