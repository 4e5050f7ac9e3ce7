/* libFuzzer harness: the IR text parser (ir_parse). A graph that parses
 * is verified, inferred, printed in full and parsed again: the printed
 * text of an accepted graph must itself be accepted. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "ir/text.h"

static void one_line(const Diag *d)
{
	CHECK(d->code != 0);
	CHECK_ONE_LINE(d->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	Diag d = {0};
	Graph *g = ir_parse(text, "fuzz.vir", &d);
	free(text);
	if (!g) {
		one_line(&d);
		return 0;
	}
	char *printed = ir_print_str_opts(g, 1);
	CHECK(printed);
	Diag d2 = {0};
	Graph *g2 = ir_parse(printed, "printed.vir", &d2);
	if (!g2) {
		fprintf(stderr, "printed text does not parse back: %s\n--- text:\n%s\n",
		        d2.msg, printed);
		abort();
	}
	free(printed);
	ir_graph_free(g2);
	if (ir_verify(g, &d) != 0 || ir_infer(g, &d) != 0)
		one_line(&d);
	ir_graph_free(g);
	return 0;
}
