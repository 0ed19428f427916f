/* lassert.h - LY_ASSERT and LY_ALLOC_CHECK for the ledger.
 *
 * The assertion header is part of proto/ (the contract layer the ledger
 * builds on); until the engine's restructuring (issue 11) moves it there it
 * still sits in engine/. This shim finds it either way, so the ledger never
 * reaches into engine/ for anything else.
 */
#ifndef LOYALTY_LEDGER_LASSERT_H
#define LOYALTY_LEDGER_LASSERT_H

#if __has_include("lyassert.h")
#include "lyassert.h"
#else
#include "../../engine/lyassert.h"
#endif

#endif
