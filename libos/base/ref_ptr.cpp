#include "base/ref_ptr.h"

#include "mm/heap.h"

namespace xos {

// Reference-counted objects are created with kcreate and derive from RefCounted first (single
// inheritance), so `this` is the start of the allocation.
void RefCounted::destroy() {
    this->~RefCounted();
    mm::kfree(this);
}

void RefCounted::operator delete(void* object) { mm::kfree(object); }

}  // namespace xos
