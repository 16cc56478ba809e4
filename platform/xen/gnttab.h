// Grant tables, version 1 (platform/xen internal): this domain lets another (a backend in dom0)
// map or copy one of its pages by handing it a grant reference. The table's frames are mapped
// with XENMEM_add_to_physmap onto pages of the image; free references are kept in a list.
#pragma once

#include <cstdint>

#include "xen/xen_abi.h"

namespace xos::xen::gnttab {

enum class Access { ReadWrite, ReadOnly };

// Maps the table. False (with a log line) if Xen refuses.
bool init();
// Lets `domain` reach the page at physical `frame_address`: a reference, or -ENOSPC when the
// table is full (-ENODEV before init).
long grant_access(domid_t domain, uintptr_t frame_address, Access access);
// Takes the grant back: true, or false while the other side still has the page mapped (the
// reference stays in use then; try again later).
bool end_access(grant_ref_t reference);

}  // namespace xos::xen::gnttab
