// The local APIC's memory-mapped registers and interrupt-command fields the simulator uses (Intel
// SDM vol. 3 §10.4-10.6; Linux's and KVM's names, arch/x86/include/asm/apicdef.h of 3.0.1).

/** APIC_DEFAULT_PHYS_BASE: the APIC base MSR's reset value, where the xAPIC's page sits. */
export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;
/** Register offsets: end of interrupt, interrupt command low and high words. */
export const APIC_EOI = 0xb0;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
/** ICR fields: vector, delivery mode (APIC_DM_FIXED is 0), destination mode, trigger, shorthand. */
export const APIC_VECTOR_MASK = 0xff;
export const APIC_MODE_MASK = 0x700;
export const APIC_DM_FIXED = 0;
export const APIC_DEST_PHYSICAL = 0;
export const APIC_DEST_LOGICAL = 0x800;
export const APIC_ICR_BUSY = 0x1000;
export const APIC_INT_LEVELTRIG = 0x8000;
export const APIC_SHORT_MASK = 0xc0000;
