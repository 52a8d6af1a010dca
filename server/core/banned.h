/*
 * banned.h: functions that are easy to misuse, made compile errors (as git
 * does).  Included last by every .c file through sipprov.h's users.
 */
#ifndef SP_BANNED_H
#define SP_BANNED_H
#define SP_BANNED(f) sorry_##f##_is_banned_in_sipprov
#undef strcpy
#define strcpy(a, b) SP_BANNED(strcpy)
#undef strcat
#define strcat(a, b) SP_BANNED(strcat)
#undef sprintf
#define sprintf(...) SP_BANNED(sprintf)
#undef strtok
#define strtok(a, b) SP_BANNED(strtok)
#undef gmtime
#define gmtime(t) SP_BANNED(gmtime)
#undef atoi
#define atoi(s) SP_BANNED(atoi)
#endif
