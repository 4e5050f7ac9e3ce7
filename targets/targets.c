/* The table of known targets (each defined as data in targets/<name>/). */
#include <string.h>
#include "target.h"

static const Target *const all[] = {&target_cpu, &target_opencl, &target_h100, &target_h200,
	&target_b100, &target_a100, &target_mi300x, &target_mi250};

const Target *target_find(const char *name)
{
	if (!name || !*name)
		return &target_cpu;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

const char *target_names(void)
{
	return "cpu, opencl, h100, h200, b100, a100, mi300x, mi250";
}
