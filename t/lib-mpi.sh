# lib-mpi.sh — OpenMPI for the tests: on this machine, in shared memory,
# whoever runs them (root too), and $MPIRUN for two ranks of one thread.
export OMPI_MCA_btl=self,vader OMPI_MCA_plm=isolated OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN="mpirun -np 2 -x OMP_NUM_THREADS=1 -x ASAN_OPTIONS -x UBSAN_OPTIONS"
