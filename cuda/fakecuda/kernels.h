/* kernels.h: the registration of C reference kernels with the stand-in
 * driver, done by a constructor in register.c when the program starts. */
#ifndef MEMBRIDGE_FAKECUDA_KERNELS_H
#define MEMBRIDGE_FAKECUDA_KERNELS_H

/* How many kernels were registered; 0 when the driver is not the stand-in. */
extern int mbfake_registered;
/* The name of the first kernel the stand-in refused, or NULL. */
extern const char *mbfake_registration_failed;

#endif
