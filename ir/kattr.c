/* IR attributes -> kernel-ABI attributes (see kattr.h). */
#include <stdlib.h>
#include "kattr.h"

int ir_node_kattrs(const Graph *g, const Node *n, KAttr **out)
{
	KAttr *a = calloc(n->nattr + 1, sizeof *a);
	int k = 0;
	for (int i = 0; i < n->nattr; i++) {
		const Attr *s = &n->attr[i];
		KAttr *t = &a[k++];
		t->name = s->name;
		t->kind = s->kind;
		t->n = s->n;
		t->i = s->i;
		t->f = s->f;
		t->s = s->s;
		t->ints = s->ints;
		t->floats = s->floats;
		t->strs = (const char *const *)s->strs;
		if (s->kind == AK_GRAPH)
			t->g = s->g;
		if (s->kind == AK_TENSOR && s->t != IR_NONE) {
			const Value *v = &g->val[s->t];
			KTensor *kt = calloc(1, sizeof *kt);
			kt->dt = v->dt;
			kt->rank = v->shape.rank;
			for (int d = 0; d < v->shape.rank; d++) {
				if (v->shape.d[d] < 0) {
					free(kt);
					t->t = NULL;
					ir_kattrs_free(a, k);
					return -1;
				}
				kt->dims[d] = v->shape.d[d];
			}
			kt->data = (void *)v->data;
			t->t = kt;
		}
	}
	a[k].name = "_opset";
	a[k].kind = AK_INT;
	a[k].i = n->opset;
	k++;
	*out = a;
	return k;
}

void ir_kattrs_free(KAttr *a, int n)
{
	if (!a)
		return;
	for (int i = 0; i < n; i++)
		if (a[i].kind == AK_TENSOR)
			free((void *)a[i].t);
	free(a);
}
